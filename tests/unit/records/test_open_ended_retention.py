"""Publicity without an end of its own: a court record (`court_dishonest`) is public while
listed, a licence without `valid_until` while it is valid (DOMAIN.md). Such a record is
kept while that lasts; after it, the retention period (5 years) runs from its end. It used
to run from the decision: a record still listed left every level five years on, and one
whose listing ended after four years and eleven months was kept one month past it."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest

from credit_records.adapters.catalog_store import SHIPPED, item_from_definition
from credit_records.domain.catalog import CatalogItem, Level
from credit_records.domain.publicity import window_for, with_publicity_end
from credit_records.domain.records import StoredRecord, Version, view

ITEMS = {d["item_code"]: item_from_definition(d) for d in json.loads(SHIPPED.read_text())["items"]}
COURT, LICENCE = ITEMS["court_dishonest"], ITEMS["admin_license"]
DECIDED = dt.date(2026, 1, 31)
SUBMITTED = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
ORGANISATION = "91310115MA8BRK2A83"
PERSON = "P" + "ab" * 32
DISHONEST = {
    "case_number": "(2026)沪01执1号",
    "court_name": "上海市第一中级人民法院",
    "obligation": "支付货款",
    "performance": "unperformed",
    "dishonest_conduct": "有履行能力而拒不履行",
}
LICENSED = {
    "license_category": "general",
    "content": "食品经营",
    "valid_from": "2026-01-31",
    "licensing_authority": "某区市场监督管理局",
}
# The listing ends at midnight in China at the end of 31 December 2030 (its last day).
UNLISTED = dt.datetime(2030, 12, 31, 16, tzinfo=dt.UTC)


def record(
    item: CatalogItem,
    fields: dict[str, Any],
    *,
    unlisted_at: dt.datetime | None = None,
    key: str = ORGANISATION,
    earlier: dict[str, Any] | None = None,
) -> StoredRecord:
    """A record as the records service stores it (with an earlier version when given)."""
    versions = [Version(1, fields, 1, SUBMITTED, "cl", "court", "")]
    if earlier is not None:
        corrected = SUBMITTED + dt.timedelta(days=30)
        versions = [
            Version(1, earlier, 1, SUBMITTED, "cl", "court", ""),
            Version(2, fields, 1, corrected, "cl", "court", "更正"),
        ]
    return StoredRecord(
        id=uuid.uuid4(),
        subject_id=uuid.uuid4(),
        subject_key=key,
        item_code=item.item_code,
        department="court",
        source_ref="(2026)沪01执1号",
        decided_on=DECIDED,
        content_hash="0" * 64,
        current_version=len(versions),
        window=window_for(item, DECIDED, fields, personal=key == PERSON),
        late=False,
        submitted_at=SUBMITTED,
        submitted_by="cl",
        updated_at=SUBMITTED,
        withdrawn_at=None,
        repaired_at=None,
        unlisted_at=unlisted_at,
        versions=versions,
    )


def at(year: int, month: int, day: int) -> dt.datetime:
    """Noon in China that day."""
    return dt.datetime(year, month, day, 4, tzinfo=dt.UTC)


def seen(
    stored: StoredRecord, item: CatalogItem, level: Level, moment: dt.datetime
) -> tuple[str, bool] | None:
    shown = view(stored, item, level, moment)
    return None if shown is None else (shown.status, shown.publicly_visible)


def test_a_court_record_still_listed_is_kept_and_public_past_its_fifth_year() -> None:
    listed = record(COURT, DISHONEST)
    assert listed.window.retention_until == dt.date.max
    for moment in (at(2031, 1, 31), at(2031, 2, 1), at(2040, 6, 1)):
        assert seen(listed, COURT, Level.PUBLIC, moment) == ("active", True)
        assert seen(listed, COURT, Level.SHARED, moment) == ("active", True)
    shown = view(listed, COURT, Level.RESTRICTED, at(2040, 6, 1))
    assert shown is not None and shown.window.retention_until == dt.date.max


def test_a_court_record_is_kept_five_years_after_its_listing_ends() -> None:
    ended = record(COURT, DISHONEST, unlisted_at=UNLISTED)
    last_kept = dt.date(2035, 12, 31)  # five calendar years after the last listed day
    assert seen(ended, COURT, Level.PUBLIC, at(2030, 12, 31)) == ("active", True)
    assert seen(ended, COURT, Level.PUBLIC, at(2031, 1, 1)) is None
    for moment in (at(2031, 1, 15), at(2031, 3, 1), at(2035, 12, 31)):
        assert seen(ended, COURT, Level.SHARED, moment) == ("active", False)
    day_after = dt.datetime.combine(last_kept, dt.time(16), dt.UTC)  # 1 January 2036 in China
    assert seen(ended, COURT, Level.SHARED, day_after) is None
    assert seen(ended, COURT, Level.RESTRICTED, day_after) == ("expired", False)
    shown = view(ended, COURT, Level.RESTRICTED, at(2031, 3, 1))
    assert shown is not None and shown.window.retention_until == last_kept


def test_as_of_a_past_moment_a_level_sees_what_the_listing_then_allowed() -> None:
    """Listed until mid-2032: as of 2031 (past the fifth year from the decision) it was
    public; as of the moment its listing ended it was at shared only."""
    unlisted = dt.datetime(2032, 6, 30, 16, tzinfo=dt.UTC)
    ended = record(COURT, DISHONEST, unlisted_at=unlisted)
    for moment in (at(2030, 6, 1), at(2031, 6, 1), unlisted - dt.timedelta(microseconds=1)):
        assert seen(ended, COURT, Level.PUBLIC, moment) == ("active", True)
    assert seen(ended, COURT, Level.PUBLIC, unlisted) is None
    assert seen(ended, COURT, Level.SHARED, unlisted) == ("active", False)
    assert seen(ended, COURT, Level.SHARED, at(2037, 6, 30)) == ("active", False)
    assert seen(ended, COURT, Level.SHARED, at(2037, 7, 1)) is None


def test_a_corrected_court_records_earlier_version_counts_from_the_listings_end_too() -> None:
    corrected = record(
        COURT,
        {**DISHONEST, "performance": "partially_performed"},
        unlisted_at=UNLISTED,
        earlier=DISHONEST,
    )
    earlier = view(corrected, COURT, Level.RESTRICTED, SUBMITTED + dt.timedelta(days=1))
    assert earlier is not None and earlier.version.version == 1
    assert earlier.window.retention_until == dt.date(2035, 12, 31)


def test_a_licence_without_an_end_of_validity_is_kept_and_public_while_valid() -> None:
    valid = record(LICENCE, LICENSED)
    assert valid.window.publicity_until is None and valid.window.retention_until == dt.date.max
    for level in (Level.PUBLIC, Level.SHARED, Level.RESTRICTED):
        assert seen(valid, LICENCE, level, at(2031, 2, 1)) == ("active", True)
        assert seen(valid, LICENCE, level, at(2060, 2, 1)) == ("active", True)


def test_a_licence_with_an_end_of_validity_is_kept_for_the_retention_after_it() -> None:
    window = window_for(LICENCE, DECIDED, {**LICENSED, "valid_until": "2028-01-30"})
    # Five calendar years (the item's 1825 days), across two 29 Februaries: 1826 days
    # would end it on 29 January.
    assert window.retention_until == dt.date(2033, 1, 30)


def test_a_persons_court_record_is_kept_while_listed_like_an_organisations() -> None:
    """The natural persons' rule (征信业管理条例 art. 16) counts five years from the end of
    the conduct: a debtor still listed has not performed, so its record stays, past the
    fifth year from the decision too, at every level the listing allows."""
    listed = record(COURT, DISHONEST, key=PERSON)
    assert listed.window.retention_until == dt.date.max
    for moment in (at(2031, 1, 31), at(2031, 2, 1), at(2033, 6, 1)):
        assert seen(listed, COURT, Level.PUBLIC, moment) == ("active", True)
        assert seen(listed, COURT, Level.SHARED, moment) == ("active", True)
    shown = view(listed, COURT, Level.RESTRICTED, at(2033, 6, 1))
    assert shown is not None and shown.window.retention_until == dt.date.max


@pytest.mark.parametrize(
    ("unlisted_at", "last_kept"),
    [
        # Listed until 30 June 2026: five years from then, not from the decision (31 Jan).
        (dt.datetime(2026, 6, 30, 16, tzinfo=dt.UTC), dt.date(2031, 6, 30)),
        # Listed until the end of 2030: kept to the end of 2035, not to 31 January 2031.
        (UNLISTED, dt.date(2035, 12, 31)),
    ],
)
def test_a_persons_court_record_leaves_every_level_but_restricted_five_years_after_its_listing(
    unlisted_at: dt.datetime, last_kept: dt.date
) -> None:
    ended = record(COURT, DISHONEST, key=PERSON, unlisted_at=unlisted_at)
    last_listed = (unlisted_at + dt.timedelta(hours=8) - dt.timedelta(microseconds=1)).date()
    assert seen(ended, COURT, Level.PUBLIC, at(2026, 6, 1)) == ("active", True)
    unlisted_day = last_listed + dt.timedelta(days=1)
    assert seen(
        ended, COURT, Level.PUBLIC, at(last_listed.year, last_listed.month, last_listed.day)
    )
    assert (
        seen(
            ended, COURT, Level.PUBLIC, at(unlisted_day.year, unlisted_day.month, unlisted_day.day)
        )
        is None
    )
    assert seen(ended, COURT, Level.SHARED, at(unlisted_day.year, 12, 31)) == ("active", False)
    last_day = dt.datetime.combine(last_kept, dt.time(4), dt.UTC)  # noon in China
    day_after = dt.datetime.combine(last_kept, dt.time(16), dt.UTC)  # its next day in China
    assert seen(ended, COURT, Level.SHARED, last_day) == ("active", False)
    assert seen(ended, COURT, Level.SHARED, day_after) is None
    assert seen(ended, COURT, Level.RESTRICTED, day_after) == ("expired", False)
    shown = view(ended, COURT, Level.RESTRICTED, day_after)
    assert shown is not None and shown.window.retention_until == last_kept


def test_a_persons_penalty_still_leaves_five_years_after_its_decision() -> None:
    """Any other negative record of a person: the decision is the latest end of the
    conduct the records know, so the cap counts from it (here sooner than the retention
    after the publicity's end would be)."""
    penalty = ITEMS["admin_penalty"]
    fields = {"severity": "serious", "penalty_kinds": ["fine"]}
    window = window_for(penalty, DECIDED, fields, personal=True)
    assert window.retention_until == dt.date(2031, 1, 31)
    assert window_for(penalty, DECIDED, fields).retention_until > dt.date(2031, 1, 31)


@pytest.mark.parametrize("last_public", [None, dt.date(2027, 5, 1)])
def test_a_window_with_an_end_of_its_own_keeps_its_retention(last_public: dt.date | None) -> None:
    penalty = ITEMS["admin_penalty"]
    window = window_for(penalty, DECIDED, {"severity": "general", "penalty_kinds": ["fine"]})
    assert with_publicity_end(window, penalty, DECIDED, last_public) is window


def test_a_listing_ending_before_the_decision_counts_from_the_decision() -> None:
    window = window_for(COURT, DECIDED, DISHONEST)
    ended = with_publicity_end(window, COURT, DECIDED, DECIDED - dt.timedelta(days=3))
    assert ended.retention_until == dt.date(2031, 1, 31)  # five years after the decision
