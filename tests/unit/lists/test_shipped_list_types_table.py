"""The shipped list types are DOMAIN.md's table ("Red and black lists"): authority,
colour, publicity before effect, default duration, maximum and repair, as the lists
service loads them from shipped.json (seeded through `list_type_of` and `definition`,
read back through `list_type_of`). No I/O beyond reading the shipped file."""

from __future__ import annotations

import json
from typing import NamedTuple

import pytest

from credit_lists.adapters.definitions import SHIPPED, list_type_of
from credit_lists.domain.model import ListType, definition

# Years are written in days as shipped.json writes them, 365 a year (730 = "2 years",
# 1095 = "3 years"); `days_after` ends a multiple of 365 days on the same date that many
# years on. A duration of 0 is "until corrected" (no end of its own).
YEAR = 365


class Row(NamedTuple):
    color: str
    authority: str
    publicity_days: int
    default_days: int | None  # None: the table gives a range, not a default
    min_days: int  # 0: no minimum duration
    max_days: int  # 0: no end
    repairable: bool
    min_days_before_repair: int


# DOMAIN.md's table of shipped list types, copied here as literals. "extendable 1-3"
# years on 2 years makes a maximum of 5 years; "-" (a red list) is not repairable.
TABLE: dict[str, Row] = {
    "court_dishonest_debtor": Row("black", "court", 0, 2 * YEAR, 0, 5 * YEAR, False, 0),
    "major_tax_violation": Row("black", "tax", 0, 3 * YEAR, 0, 3 * YEAR, True, 0),
    "serious_illegal_dishonest": Row(
        "black", "market_regulation", 10, 3 * YEAR, 0, 3 * YEAR, True, 1 * YEAR
    ),
    "business_abnormal": Row("watch", "market_regulation", 0, 0, 0, 0, True, 0),
    "procurement_bad_record": Row("black", "finance", 10, None, 1 * YEAR, 3 * YEAR, False, 0),
    "a_grade_taxpayer": Row("red", "tax", 10, 1 * YEAR, 0, 1 * YEAR, False, 0),
    "contract_honoring_enterprise": Row(
        "red", "market_regulation", 10, 2 * YEAR, 0, 2 * YEAR, False, 0
    ),
}


def shipped() -> dict[str, ListType]:
    """The shipped list types as the service has them once seeded and loaded again."""
    types = json.loads(SHIPPED.read_text(encoding="utf-8"))["list_types"]
    return {d["list_type"]: list_type_of(definition(list_type_of(d))) for d in types}


SHIPPED_TYPES = shipped()


def test_the_shipped_list_types_are_those_of_the_table() -> None:
    assert sorted(SHIPPED_TYPES) == sorted(TABLE)


@pytest.mark.parametrize("code", sorted(TABLE))
def test_a_shipped_list_type_has_the_tables_authority_colour_and_publicity(code: str) -> None:
    row, found = TABLE[code], SHIPPED_TYPES[code]
    assert found.color == row.color
    assert found.authority_department == row.authority
    assert found.publicity_days == row.publicity_days


@pytest.mark.parametrize("code", sorted(TABLE))
def test_a_shipped_list_type_lasts_the_tables_duration(code: str) -> None:
    row, found = TABLE[code], SHIPPED_TYPES[code]
    if row.default_days is None:
        assert row.min_days <= found.default_duration_days <= row.max_days
    else:
        assert found.default_duration_days == row.default_days
    assert found.min_duration_days == row.min_days
    assert found.max_duration_days == row.max_days
    assert found.problems() == []


@pytest.mark.parametrize("code", sorted(TABLE))
def test_a_shipped_list_type_is_repairable_as_the_table_says(code: str) -> None:
    row, found = TABLE[code], SHIPPED_TYPES[code]
    assert found.repairable is row.repairable
    assert found.min_days_before_repair == row.min_days_before_repair
