"""Publicity periods counted as the Civil Code counts them (arts. 201-202): from the day
after the decision; a period of months ends on the same day of its last month, or on that
month's last day when it has no such day. Repair is possible after the minimum: from the
day after its last day. A penalty's stated deadline (CF_GSJZQ) is its end when it lies
within its severity's minimum and maximum."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

import pytest

from credit_records.domain.catalog import CatalogItem, Level, PublicityRule, SeverityWindow
from credit_records.domain.publicity import (
    Moment,
    deadline_problem,
    status_at,
    visible_at,
    window_for,
)
from credit_records.domain.records import StoredRecord, Version, view

PENALTY_RULE = PublicityRule(
    "by_severity",
    by_severity={
        "minor": SeverityWindow(False),
        "general": SeverityWindow(True, 3, 12),
        "serious": SeverityWindow(True, 12, 36),
    },
)


def item(rule: PublicityRule = PENALTY_RULE) -> CatalogItem:
    return CatalogItem(
        item_code="admin_penalty",
        name="行政处罚",
        category="行政管理信息",
        nature="negative",
        disclosure=Level.PUBLIC,
        source_departments=("*",),
        publicity=rule,
        retention_days=1826,
        repairable=True,
        non_repairable_kinds=("suspension",),
        fields_schema={"type": "object"},
    )


def penalty(severity: str = "general", **more: Any) -> dict[str, Any]:
    return {"severity": severity, "penalty_kinds": ["fine"], **more}


@pytest.mark.parametrize(
    ("decided", "severity", "last_public", "repair_from"),
    [
        (dt.date(2026, 1, 15), "general", dt.date(2027, 1, 15), dt.date(2026, 4, 16)),
        # No 30 February: the minimum ends on the month's last day.
        (dt.date(2025, 11, 30), "general", dt.date(2026, 11, 30), dt.date(2026, 3, 1)),
        (dt.date(2024, 2, 29), "serious", dt.date(2027, 2, 28), dt.date(2025, 3, 1)),
    ],
)
def test_a_penalty_is_public_to_the_maximums_last_day_and_repairable_the_day_after_the_minimum(
    decided: dt.date, severity: str, last_public: dt.date, repair_from: dt.date
) -> None:
    window = window_for(item(), decided, penalty(severity))
    assert window.publicity_until == last_public
    assert window.repair_possible_from == repair_from


def test_a_penalty_that_may_not_be_repaired_may_be_the_day_after_its_maximum() -> None:
    window = window_for(
        item(), dt.date(2026, 1, 15), {"severity": "serious", "penalty_kinds": ["suspension"]}
    )
    assert not window.repairable
    assert window.publicity_until == dt.date(2029, 1, 15)
    assert window.repair_possible_from == dt.date(2029, 1, 16)


def test_a_fixed_minimum_in_days_ends_on_its_last_day() -> None:
    window = window_for(
        item(PublicityRule("fixed", days=365, min_days=90)), dt.date(2026, 1, 1), {}
    )
    assert window.publicity_until == dt.date(2027, 1, 1)
    assert window.repair_possible_from == dt.date(2026, 4, 2)  # 1 January + 90 days, then the next


@pytest.mark.parametrize("deadline", ["2026-04-15", "2026-09-30", "2027-01-15"])
def test_a_stated_deadline_within_the_window_is_the_end(deadline: str) -> None:
    fields = penalty(publicity_deadline=deadline)
    assert deadline_problem(item(), dt.date(2026, 1, 15), fields) == ""
    window = window_for(item(), dt.date(2026, 1, 15), fields)
    assert window.publicity_until == dt.date.fromisoformat(deadline)
    assert window.repair_possible_from == dt.date(2026, 4, 16)


@pytest.mark.parametrize(
    ("deadline", "held_to"),
    [("2026-04-14", dt.date(2026, 4, 15)), ("2027-01-16", dt.date(2027, 1, 15))],
)
def test_a_stated_deadline_outside_the_window_is_refused_and_held_to_it(
    deadline: str, held_to: dt.date
) -> None:
    fields = penalty(publicity_deadline=deadline)
    problem = deadline_problem(item(), dt.date(2026, 1, 15), fields)
    assert problem == (
        f"{deadline} is outside the publicity of a general penalty decided on 2026-01-15: "
        "from 2026-04-15 to 2027-01-15"
    )
    assert window_for(item(), dt.date(2026, 1, 15), fields).publicity_until == held_to


def test_a_minor_penalty_stays_unpublished_whatever_deadline_it_states() -> None:
    fields = penalty("minor", publicity_deadline="2026-02-01")
    assert deadline_problem(item(), dt.date(2026, 1, 15), fields) == ""
    assert window_for(item(), dt.date(2026, 1, 15), fields).never_public


def test_a_persons_negative_record_leaves_every_level_but_restricted_five_years_on() -> None:
    """征信业管理条例 art. 16: kept 5 years after the conduct ends (the decision, here)."""
    serious = penalty("serious")
    decided = dt.date(2024, 2, 29)
    organisation = window_for(item(), decided, serious)
    assert organisation.retention_until == dt.date(2027, 2, 28) + dt.timedelta(days=1826)
    person = window_for(item(), decided, serious, personal=True)
    assert person.retention_until == dt.date(2029, 2, 28)
    assert person.publicity_until == organisation.publicity_until
    licence = dataclasses.replace(item(), nature="neutral")
    kept = window_for(licence, decided, serious, personal=True).retention_until
    assert kept == organisation.retention_until
    moment = Moment(withdrawn=False, repaired=False)
    last, after = dt.date(2029, 2, 28), dt.date(2029, 3, 1)
    assert visible_at(item(), person, moment, last, Level.SHARED)
    assert not visible_at(item(), person, moment, after, Level.SHARED)
    assert not visible_at(item(), person, moment, after, Level.AUTHORIZED)
    assert visible_at(item(), person, moment, after, Level.RESTRICTED)
    assert status_at(person, 1, moment, after) == "expired"


def test_a_past_version_is_seen_with_the_window_it_had() -> None:
    """A record corrected from general to minor was public while it was general."""
    decided = dt.date(2026, 1, 15)
    general = Version(
        1, penalty("general"), 1, dt.datetime(2026, 1, 16, tzinfo=dt.UTC), "c", "d", ""
    )
    minor = Version(2, penalty("minor"), 1, dt.datetime(2026, 3, 1, tzinfo=dt.UTC), "c", "d", "r")
    record = StoredRecord(
        id=uuid.uuid4(),
        subject_id=uuid.uuid4(),
        subject_key="91310115MA1K3YJ58Y",
        item_code="admin_penalty",
        department="market_regulation",
        source_ref="ref",
        decided_on=decided,
        content_hash="0" * 64,
        current_version=2,
        window=window_for(item(), decided, minor.fields),
        late=False,
        submitted_at=general.recorded_at,
        submitted_by="c",
        updated_at=minor.recorded_at,
        withdrawn_at=None,
        repaired_at=None,
        versions=[general, minor],
    )
    before = view(record, item(), Level.PUBLIC, dt.datetime(2026, 2, 1, tzinfo=dt.UTC))
    assert before is not None and before.version is general
    assert before.publicly_visible and before.window.publicity_until == dt.date(2027, 1, 15)
    assert view(record, item(), Level.PUBLIC, dt.datetime(2026, 3, 2, tzinfo=dt.UTC)) is None


def test_a_persons_record_stored_before_its_item_was_negative_is_capped_when_read() -> None:
    decided = dt.date(2020, 3, 2)
    neutral = dataclasses.replace(item(), nature="neutral")
    fields = penalty("serious")
    version = Version(1, fields, 1, dt.datetime(2020, 3, 3, tzinfo=dt.UTC), "c", "d", "")
    record = StoredRecord(
        id=uuid.uuid4(),
        subject_id=uuid.uuid4(),
        subject_key="P" + "AB" * 32,
        item_code="admin_penalty",
        department="market_regulation",
        source_ref="ref",
        decided_on=decided,
        content_hash="0" * 64,
        current_version=1,
        window=window_for(neutral, decided, fields, personal=True),
        late=False,
        submitted_at=version.recorded_at,
        submitted_by="c",
        updated_at=version.recorded_at,
        withdrawn_at=None,
        repaired_at=None,
        versions=[version],
    )
    assert record.window.retention_until > dt.date(2025, 3, 2)
    later = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    assert view(record, neutral, Level.SHARED, later) is not None
    assert view(record, item(), Level.SHARED, later) is None
    seen = view(record, item(), Level.RESTRICTED, later)
    assert seen is not None and seen.window.retention_until == dt.date(2025, 3, 2)
    assert seen.status == "expired"
