"""How long a public answer stays true by time alone (entrypoints/caching.py)."""

from __future__ import annotations

import datetime as dt

from credit.records.v1 import records_pb2 as rec
from credit_gateway.entrypoints import schemas
from credit_gateway.entrypoints.caching import CHINA, changes_by_time
from credit_gateway.entrypoints.record_views import publicity_ends


def _record(until: dt.date | None) -> rec.Record:
    return rec.Record(publicity_until=until.isoformat() if until else "")


def _entry(publicity: dt.datetime | None, valid: dt.datetime | None) -> schemas.EntryPublic:
    return schemas.EntryPublic.model_construct(publicity_until=publicity, valid_until=valid)


def test_a_record_leaves_the_public_level_when_its_last_day_ends_in_china() -> None:
    day = dt.date.today() + dt.timedelta(days=3)
    ends = changes_by_time(publicity_ends([_record(None), _record(day)]))
    assert ends == dt.datetime(day.year, day.month, day.day, tzinfo=CHINA) + dt.timedelta(days=1)
    assert ends.astimezone(dt.UTC).hour == 16


def test_the_first_change_counts_and_past_moments_do_not() -> None:
    now = dt.datetime.now(dt.UTC)
    soon, later = now + dt.timedelta(hours=1), now + dt.timedelta(days=2)
    held = now - dt.timedelta(days=1)  # publicity over, held by an objection: events tell
    ends = changes_by_time(
        publicity_ends([_record((later + dt.timedelta(days=5)).date())]),
        entries=[_entry(held, later), _entry(None, soon)],
    )
    assert ends == soon


def test_an_open_objection_bounds_it_by_its_next_deadline() -> None:
    due = dt.datetime.now(dt.UTC) + dt.timedelta(hours=5)
    open_ = schemas.ObjectionPublic.model_construct(due_at=due)
    assert changes_by_time(objections=[open_]) == due


def test_nothing_that_ends_by_time_keeps_no_bound() -> None:
    assert changes_by_time() is None
    assert changes_by_time(publicity_ends([_record(None)]), entries=[_entry(None, None)]) is None
