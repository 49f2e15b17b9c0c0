"""Penalty kinds that forbid repair before the maximum (DOMAIN.md, publicity of penalty
information): a penalty whose kinds include `suspension`, `closure`,
`business_restriction`, `practice_restriction`, `qualification_downgrade` or
`license_revocation` may not be repaired before its maximum; any other may be after its
minimum. The shipped catalog's `admin_penalty`, with no I/O beyond reading it."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from credit_records.adapters.catalog_store import SHIPPED, item_from_definition
from credit_records.domain.publicity import window_for

PENALTY = next(
    item_from_definition(d)
    for d in json.loads(SHIPPED.read_text())["items"]
    if d["item_code"] == "admin_penalty"
)
DECIDED = dt.date(2026, 1, 15)

# DOMAIN.md's list of the kinds that forbid repair before the maximum.
NON_REPAIRABLE = [
    "suspension",
    "closure",
    "business_restriction",
    "practice_restriction",
    "qualification_downgrade",
    "license_revocation",
]
# The other kinds of the Administrative Penalty Law art. 9 DOMAIN.md names.
REPAIRABLE = [
    "warning",
    "public_criticism",
    "fine",
    "confiscation",
    "license_withholding",
    "detention",
    "other",
]


def test_the_shipped_catalog_forbids_repair_for_exactly_the_kinds_domain_md_names() -> None:
    assert PENALTY.repairable
    assert sorted(PENALTY.non_repairable_kinds) == sorted(NON_REPAIRABLE)


@pytest.mark.parametrize("severity", ["general", "serious"])
@pytest.mark.parametrize("beside", [[], ["fine"]], ids=["alone", "with_fine"])
@pytest.mark.parametrize("kind", NON_REPAIRABLE)
def test_a_penalty_of_a_forbidding_kind_is_repairable_only_after_its_maximum(
    kind: str, beside: list[str], severity: str
) -> None:
    window = window_for(PENALTY, DECIDED, {"severity": severity, "penalty_kinds": [*beside, kind]})
    assert not window.repairable
    assert window.publicity_until is not None
    assert window.repair_possible_from == window.publicity_until + dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("severity", "repair_from", "last_public"),
    [
        # General: at least 3 months, at most 1 year; serious: at least 1, at most 3 years.
        ("general", dt.date(2026, 4, 16), dt.date(2027, 1, 15)),
        ("serious", dt.date(2027, 1, 16), dt.date(2029, 1, 15)),
    ],
)
@pytest.mark.parametrize("kinds", [*([k] for k in REPAIRABLE), ["fine", "warning"]])
def test_a_penalty_of_other_kinds_is_repairable_the_day_after_its_minimum(
    kinds: list[str], severity: str, repair_from: dt.date, last_public: dt.date
) -> None:
    window = window_for(PENALTY, DECIDED, {"severity": severity, "penalty_kinds": kinds})
    assert window.repairable
    assert window.repair_possible_from == repair_from
    assert window.publicity_until == last_public


def test_a_record_never_published_is_not_repairable() -> None:
    """A repair ends a publication: a minor penalty, and a record of an item shown at the
    shared level only (social_insurance_arrears, whose item allows repair), have none, and
    said they were repairable while every repair of them was refused."""
    arrears = next(
        item_from_definition(d)
        for d in json.loads(SHIPPED.read_text())["items"]
        if d["item_code"] == "social_insurance_arrears"
    )
    assert arrears.repairable
    for item, fields in (
        (PENALTY, {"severity": "minor", "penalty_kinds": ["warning"]}),
        (arrears, {}),
    ):
        window = window_for(item, DECIDED, fields)
        assert window.never_public
        assert not window.repairable and window.repair_possible_from is None
