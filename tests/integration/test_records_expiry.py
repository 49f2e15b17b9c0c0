"""The records service's sweep for records past their retention: each told expired once
(an `expired` history row and a record.expired event), by however many sweeps run at once,
and told again only if its retention was moved later and then ran out again."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from credit.events.v1 import envelope_pb2, lists_pb2
from credit.events.v1 import records_pb2 as ev
from credit_common.messages import timestamp
from credit_common.timeutil import china_date, utcnow
from credit_records.adapters import tables as t
from credit_records.bootstrap import RecordsApp
from credit_records.domain.catalog import Level
from credit_records.service_layer import commands
from credit_records.service_layer.expiry import Expiry
from support.records_parts import (
    COURT,
    DISHONEST,
    MARKET,
    answering,
    decided,
    keys,
    penalty,
    started,
    submit,
)


@pytest.fixture
async def records(database_url: str, tmp_path: Path) -> AsyncIterator[RecordsApp]:
    app = await started(database_url, tmp_path)
    yield app
    await app.stop()


async def told(app: RecordsApp) -> list[ev.RecordExpired]:
    """The record.expired events written so far, in order."""
    async with app.db.read() as conn:
        rows = await conn.scalars(
            sa.select(t.outbox.c.envelope)
            .where(t.outbox.c.event_type == "record.expired")
            .order_by(t.outbox.c.seq)
        )
        found = []
        for raw in rows:
            expired = ev.RecordExpired()
            envelope_pb2.Envelope.FromString(bytes(raw)).payload.Unpack(expired)
            found.append(expired)
        return found


async def kept_until(app: RecordsApp, record_id: uuid.UUID) -> dt.date:
    async with app.db.read() as conn:
        until: dt.date = await conn.scalar(
            sa.select(t.records.c.retention_until).where(t.records.c.id == record_id)
        )
        return until


async def history(app: RecordsApp, record_id: uuid.UUID) -> list[tuple[str, str]]:
    async with app.db.read() as conn:
        rows = await conn.execute(
            sa.select(t.record_history.c.change, t.record_history.c.detail)
            .where(t.record_history.c.record_id == record_id)
            .order_by(t.record_history.c.id)
        )
        return [(r.change, r.detail) for r in rows]


def the_day_after(day: dt.date) -> dt.datetime:
    """A moment of the day after `day` in China (its noon)."""
    return dt.datetime(day.year, day.month, day.day, 4, tzinfo=dt.UTC) + dt.timedelta(days=1)


async def test_records_past_their_retention_are_told_expired_once_and_withdrawn_ones_not(
    records: RecordsApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = records
    subject = keys()
    answering(app, monkeypatch, subject)
    first, second, withdrawn = [await submit(app, subject[1]) for _ in range(3)]
    await app.records.withdraw(commands.Withdraw(MARKET, withdrawn, "撤销处罚决定"))
    last_day = await kept_until(app, first)
    assert last_day == await kept_until(app, second) and last_day > china_date(utcnow())

    assert await app.expiry.tick() == 0  # today: both are kept
    # The last day kept is still the record's, in China, until midnight there.
    last_moment = dt.datetime(last_day.year, last_day.month, last_day.day, 15, 59, tzinfo=dt.UTC)
    assert await app.expiry.tick(last_moment) == 0
    assert await app.expiry.tick(last_moment + dt.timedelta(minutes=1)) == 2
    assert await app.expiry.tick(the_day_after(last_day)) == 0  # told already

    events = await told(app)
    assert sorted(e.record.record_id for e in events) == sorted([str(first), str(second)])
    for e in events:
        assert e.record.status == "expired" and e.record.subject_id == str(subject[0])
        assert e.record.subject_key == subject[1] and e.record.item_code == "admin_penalty"
        assert e.retention_until == last_day.isoformat()
    assert (await history(app, first))[-1] == ("expired", f"kept until {last_day}")
    assert [change for change, _ in await history(app, withdrawn)] == ["withdrawn"]


async def test_sweeps_at_once_tell_each_record_once(
    records: RecordsApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replicas sweep side by side, in small batches: each record is told by one of them."""
    app = records
    subject = keys()
    answering(app, monkeypatch, subject)
    ids = [await submit(app, subject[1]) for _ in range(9)]
    later = the_day_after(await kept_until(app, ids[0]))
    sweeps = [Expiry(app.db, app.records.outbox, batch=2) for _ in range(3)]
    counts = await asyncio.gather(*(s.tick(later) for s in sweeps))
    assert sum(counts) == 9
    assert sorted(e.record.record_id for e in await told(app)) == sorted(map(str, ids))


async def test_a_sweep_tells_so_many_batches_at_most_and_the_next_goes_on(
    records: RecordsApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = records
    subject = keys()
    answering(app, monkeypatch, subject)
    ids = [await submit(app, subject[1]) for _ in range(5)]
    later = the_day_after(await kept_until(app, ids[0]))
    sweep = Expiry(app.db, app.records.outbox, batch=2, batches=2)
    assert [await sweep.tick(later) for _ in range(3)] == [4, 1, 0]
    assert len(await told(app)) == 5


async def test_a_record_kept_longer_by_a_correction_after_its_expiry_was_told_is_told_again(
    records: RecordsApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep told a record expired (here: at a moment ahead of today); a correction
    made today keeps it past today: it lasts again, and is told anew when that ends."""
    app = records
    subject = keys()
    answering(app, monkeypatch, subject)
    record_id = await submit(app, subject[1])
    first_day = await kept_until(app, record_id)
    later = the_day_after(first_day)
    assert await app.expiry.tick(later) == 1
    assert await app.expiry.tick(later) == 0
    serious = penalty(severity="serious")
    await app.records.correct(commands.Correct(MARKET, record_id, serious, "情节认定有误"))
    last_day = await kept_until(app, record_id)  # a serious penalty is kept longer
    assert last_day > first_day
    assert await app.expiry.tick() == 0  # today it is kept
    assert await app.expiry.tick(later) == 0  # and the day it ended before
    assert await app.expiry.tick(the_day_after(last_day)) == 1
    assert [e.retention_until for e in await told(app)] == [str(first_day), str(last_day)]
    assert [change for change, _ in await history(app, record_id)].count("expired") == 2


async def test_a_court_record_told_expired_after_its_listing_ended_lasts_again_when_listed_again(
    records: RecordsApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A "while listed" record is kept for its retention after its listings end: once that
    is over it is told expired; listed again without an end, it is kept again (its expiry
    no longer told), and a sweep tells nothing."""
    app = records
    subject = keys()
    answering(app, monkeypatch, subject)
    filing = commands.Submit(COURT, subject[1], "court_dishonest", "执1号", decided(), DISHONEST)
    record_id = (await app.records.submit(filing)).view.record.id

    async def tell(kind: str, entry_id: str, ends: dt.datetime | None) -> None:
        payload = lists_pb2.EntryChanged(
            entry_id=entry_id,
            subject_id=str(subject[0]),
            subject_key=subject[1],
            list_type="court_dishonest_debtor",
            to_state=kind,
            ended_at=timestamp(ends if kind == "removed" else None),
            reason="履行完毕",
            basis_record_ids=[str(record_id)],
            valid_until=timestamp(ends if kind != "removed" else None),
        )
        message = envelope_pb2.Envelope(event_id=str(uuid.uuid4()), type=f"entry.{kind}")
        message.occurred_at.FromDatetime(utcnow())
        message.payload.Pack(payload)
        async with app.db.transaction() as conn:
            await app.consumers.handlers()[message.type](conn, message)

    assert await kept_until(app, record_id) == dt.date.max  # no end of its listing known
    await tell("removed", "entry-1", utcnow())
    last_day = await kept_until(app, record_id)
    assert last_day < dt.date.max
    assert await app.expiry.tick(the_day_after(last_day)) == 1
    await tell("effective", "entry-2", None)  # listed again, without an end
    assert await kept_until(app, record_id) == dt.date.max
    async with app.db.read() as conn:
        assert (
            await conn.scalar(
                sa.select(t.records.c.expiry_told_at).where(t.records.c.id == record_id)
            )
            is None
        )
    assert await app.expiry.tick(the_day_after(last_day)) == 0


async def test_a_record_past_its_retention_reads_expired_and_only_at_restricted(
    records: RecordsApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the event tells is what reads show once the day has come: the sweep changes no
    read (a record's status is worked out from its retention when read)."""
    app = records
    subject = keys()
    answering(app, monkeypatch, subject)
    record_id = await submit(app, subject[1])
    async with app.db.transaction() as conn:  # as if decided and kept long ago
        await conn.execute(
            sa.update(t.records)
            .where(t.records.c.id == record_id)
            .values(retention_until=china_date(utcnow()) - dt.timedelta(days=1))
        )
    assert await app.expiry.tick() == 1
    restricted = await app.records.get(record_id, Level.RESTRICTED)
    assert restricted.status == "expired"
    views, _ = await app.records.for_subject(commands.ListForSubject(subject[0], Level.SHARED))
    assert record_id not in {v.record.id for v in views}
