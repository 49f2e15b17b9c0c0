"""Windows far ahead: a catalog item's are bounded (2^31 days or a million months is a
typo), and one that would end after 9999-12-31 ends on that day (the record is kept for
good). Either used to make the date arithmetic overflow: a 500 for every record."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from credit_records.domain.catalog import (
    MAX_DAYS,
    MAX_MONTHS,
    CatalogItem,
    Level,
    PublicityRule,
    SeverityWindow,
    check_item,
)
from credit_records.domain.publicity import add_months, window_for

LAST = dt.date.max
DECIDED = dt.date(2026, 3, 1)


def item(rule: PublicityRule, retention_days: int = 1826) -> CatalogItem:
    return CatalogItem(
        item_code="admin_license",
        name="行政许可",
        category="行政管理信息",
        nature="positive",
        disclosure=Level.PUBLIC,
        source_departments=("*",),
        publicity=rule,
        retention_days=retention_days,
        repairable=True,
        non_repairable_kinds=(),
        fields_schema={"type": "object"},
    )


LICENCE = item(PublicityRule("field_until", until_field="valid_until"))


@pytest.mark.parametrize("valid_until", ["9999-12-31", "9998-01-01", "9995-01-03"])
def test_a_licence_valid_until_the_last_days_there_are_is_public_until_then_and_kept_for_good(
    valid_until: str,
) -> None:
    """长期有效 licences say 9999-12-31; retention counted from such a day would pass it."""
    window = window_for(LICENCE, DECIDED, {"valid_until": valid_until})
    assert window.publicity_until == dt.date.fromisoformat(valid_until)
    assert window.retention_until == LAST


def test_a_validity_ending_before_its_retention_would_pass_the_last_day_is_kept_as_long() -> None:
    window = window_for(LICENCE, DECIDED, {"valid_until": "9990-01-01"})
    assert window.retention_until == dt.date(9990, 1, 1) + dt.timedelta(days=1826)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(9999, 11, 30), 1, dt.date(9999, 12, 30)),
        (dt.date(9999, 12, 1), 1, LAST),
        (dt.date(2026, 1, 31), 1_000_000, LAST),
        (dt.date(2024, 1, 31), 1, dt.date(2024, 2, 29)),
    ],
)
def test_months_past_the_last_year_end_on_the_last_day(
    day: dt.date, months: int, expected: dt.date
) -> None:
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    "rule",
    [
        PublicityRule("fixed", days=2_147_483_647, min_days=2_147_483_647),
        PublicityRule("fixed", months=2_147_483_647),
        PublicityRule(
            "by_severity",
            by_severity={"general": SeverityWindow(True, 1_000_000, 1_000_000)},
        ),
    ],
)
def test_windows_past_the_last_day_end_on_it(rule: PublicityRule) -> None:
    fields: dict[str, Any] = {"severity": "general"}
    window = window_for(item(rule, retention_days=2_147_483_647), DECIDED, fields)
    assert window.publicity_until == LAST and window.retention_until == LAST
    assert window.repair_possible_from in (None, LAST)


def severity(max_months: int) -> PublicityRule:
    return PublicityRule(
        "by_severity", by_severity={"general": SeverityWindow(True, 3, max_months)}
    )


def test_windows_up_to_a_hundred_years_are_accepted() -> None:
    assert MAX_DAYS == 36500 and MAX_MONTHS == 1200
    longest = [
        item(PublicityRule("fixed", days=MAX_DAYS, min_days=MAX_DAYS - 1), retention_days=MAX_DAYS),
        item(PublicityRule("fixed", months=MAX_MONTHS)),
        item(severity(MAX_MONTHS)),
    ]
    assert [check_item(i) for i in longest] == [[], [], []]


@pytest.mark.parametrize(
    ("changed", "field"),
    [
        (item(PublicityRule("fixed", days=2_147_483_647)), "publicity_days"),
        (item(PublicityRule("fixed", days=90, min_days=MAX_DAYS + 1)), "min_publicity_days"),
        (item(PublicityRule("fixed", months=MAX_MONTHS + 1)), "publicity.months"),
        (item(PublicityRule("fixed", months=-100_000, days=30)), "publicity.months"),
        (item(severity(1_000_000)), "publicity.by_severity.general"),
        (item(PublicityRule("fixed", days=90), retention_days=MAX_DAYS + 1), "retention_days"),
    ],
)
def test_longer_windows_are_refused_with_the_field_named(changed: CatalogItem, field: str) -> None:
    assert [name for name, _ in check_item(changed)] == [field]
