"""The records service's handling of subject merges, in the orders the consumer can
produce (a failing event is retried later, after the ones that followed it; replicas work
through different batches at once) and with records stored for the duplicate after the
merge was heard (the registry's answer cached, or given just before the merge): no record
is left under a merged subject, where no read looks."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from credit.events.v1 import envelope_pb2, subject_pb2
from credit.events.v1 import records_pb2 as ev
from credit_common.outbox import Event
from credit_common.timeutil import utcnow
from credit_records.adapters import merges
from credit_records.adapters import tables as t
from credit_records.bootstrap import RecordsApp
from credit_records.domain.catalog import Level
from credit_records.service_layer import commands
from credit_records.service_layer.ingest import RowIn
from support.backends import BACKEND
from support.records_parts import MARKET, answering, decided, keys, penalty, started, submit

# How long a second transaction is given to get as far as it can while the first one is
# open: it must then be waiting for that one to end.
WAIT = 0.5


@pytest.fixture
async def records(database_url: str, tmp_path: Path) -> AsyncIterator[RecordsApp]:
    app = await started(database_url, tmp_path)
    yield app
    await app.stop()


async def stored_uncommitted(
    app: RecordsApp, monkeypatch: pytest.MonkeyPatch, key: str
) -> tuple[asyncio.Task[uuid.UUID], asyncio.Event]:
    """A record submitted for `key`, stored and held uncommitted (its transaction open)
    until the event returned is set; the task gives its id once committed."""
    stored, go_on = asyncio.Event(), asyncio.Event()
    add = app.records.outbox.add

    async def holding(conn: AsyncConnection, *events: Event) -> list[str]:
        written = await add(conn, *events)
        stored.set()
        await go_on.wait()
        return written

    monkeypatch.setattr(app.records.outbox, "add", holding)
    storing = asyncio.create_task(submit(app, key))
    await stored.wait()
    return storing, go_on


async def load(app: RecordsApp, codes: Sequence[str]) -> None:
    rows = [
        RowIn(
            number,
            code,
            "admin_penalty",
            f"某监罚〔2026〕{uuid.uuid4().hex[:8]}号",
            decided(),
            json.dumps(penalty(), ensure_ascii=False),
        )
        for number, code in enumerate(codes, 1)
    ]

    async def chunks() -> AsyncIterator[Sequence[RowIn]]:
        yield rows

    result = await app.ingestion.run(MARKET, chunks(), atomic=False)
    assert (result.accepted, result.rejected) == (len(rows), [])


def merged(
    duplicate: tuple[uuid.UUID, str], survivor: tuple[uuid.UUID, str]
) -> envelope_pb2.Envelope:
    message = envelope_pb2.Envelope(event_id=str(uuid.uuid4()), type="subject.merged")
    message.occurred_at.FromDatetime(utcnow())
    message.payload.Pack(
        subject_pb2.SubjectMerged(
            subject_id=str(duplicate[0]),
            merged_code=duplicate[1],
            survivor_id=str(survivor[0]),
            survivor_code=survivor[1],
            reason="重复登记",
        )
    )
    return message


async def hear(app: RecordsApp, envelope: envelope_pb2.Envelope) -> None:
    """The consumer handles one event, in its own transaction."""
    async with app.db.transaction() as conn:
        await app.consumers.handlers()[envelope.type](conn, envelope)


async def owners(app: RecordsApp) -> dict[uuid.UUID, tuple[uuid.UUID, str]]:
    """Every record's subject, as stored: record id → (subject id, subject key)."""
    async with app.db.read() as conn:
        rows = await conn.execute(
            sa.select(t.records.c.id, t.records.c.subject_id, t.records.c.subject_key)
        )
        return {r.id: (r.subject_id, r.subject_key) for r in rows}


async def shown(app: RecordsApp, subject_id: uuid.UUID) -> set[uuid.UUID]:
    views, _ = await app.records.for_subject(commands.ListForSubject(subject_id, Level.PUBLIC))
    return {v.record.id for v in views}


async def merge_history(app: RecordsApp, record_id: uuid.UUID) -> list[str]:
    async with app.db.read() as conn:
        rows = await conn.execute(
            sa.select(t.record_history.c.detail)
            .where(
                t.record_history.c.record_id == record_id,
                t.record_history.c.change == "subject_merged",
            )
            .order_by(t.record_history.c.id)
        )
        return list(rows.scalars())


async def events(app: RecordsApp) -> list[tuple[str, list[str], list[str]]]:
    """The events written so far: (type, subjects named, records named)."""
    async with app.db.read() as conn:
        rows = (
            await conn.execute(
                sa.select(t.outbox.c.event_type, t.outbox.c.envelope).order_by(t.outbox.c.seq)
            )
        ).all()
    found = []
    for kind, raw in rows:
        message = envelope_pb2.Envelope.FromString(bytes(raw))
        if kind == "record.created":
            created = ev.RecordsCreated()
            message.payload.Unpack(created)
            found.append(
                (
                    kind,
                    [r.subject_id for r in created.records],
                    [r.record_id for r in created.records],
                )
            )
        elif kind == "record.marked":
            marked = ev.RecordsMarked()
            message.payload.Unpack(marked)
            found.append(
                (f"{kind}:{marked.mark}", list(marked.subject_ids), list(marked.record_ids))
            )
    return found


async def test_merges_of_a_chain_heard_in_reverse_order_bring_every_record_to_the_last_survivor(
    records: RecordsApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A into B, then B into C, heard the other way round (A into B failed once): A's
    records go to C, not to B (merged itself), and say so; records stored later for A or B
    go to C too."""
    a, b, c = keys(), keys(), keys()
    answering(records, monkeypatch, a, b, c)
    of_a, of_b = await submit(records, a[1]), await submit(records, b[1])
    await hear(records, merged(b, c))
    await hear(records, merged(a, b))
    assert await owners(records) == {of_a: c, of_b: c}
    assert await shown(records, c[0]) == {of_a, of_b}
    assert await merge_history(records, of_a) == [f"from {a[0]} to {c[0]} through {b[0]}"]
    assert await merge_history(records, of_b) == [f"from {b[0]} to {c[0]}"]
    moved = [e for e in await events(records) if e[0] == "record.marked:moved"]
    assert moved == [
        ("record.marked:moved", [str(b[0]), str(c[0])], [str(of_b)]),
        ("record.marked:moved", [str(a[0]), str(b[0]), str(c[0])], [str(of_a)]),
    ]
    late_a, late_b = await submit(records, a[1]), await submit(records, b[1])
    await load(records, [a[1], b[1], c[1]])
    assert {owner for owner in (await owners(records)).values()} == {c}
    assert len(await shown(records, c[0])) == 7
    assert await merge_history(records, late_b) == [f"from {b[0]} to {c[0]}"]
    assert await merge_history(records, late_a) == [f"from {a[0]} to {c[0]}"]


async def test_merges_of_a_chain_heard_in_order_bring_every_record_to_the_last_survivor(
    records: RecordsApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, c = keys(), keys(), keys()
    answering(records, monkeypatch, a, b, c)
    of_a = await submit(records, a[1])
    await hear(records, merged(a, b))
    await hear(records, merged(b, c))
    late_a = await submit(records, a[1])
    assert await owners(records) == {of_a: c, late_a: c}
    assert await merge_history(records, of_a) == [
        f"from {a[0]} to {b[0]}",
        f"from {b[0]} to {c[0]}",
    ]


async def test_a_record_submitted_for_the_duplicate_after_its_merge_was_heard_goes_to_the_survivor(
    records: RecordsApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registry's answer for the duplicate's code was cached before the merge (or given
    just before it): the record is stored under the survivor, with its content hash and
    its creation event, and says why."""
    duplicate, survivor = keys(), keys()
    answering(records, monkeypatch, duplicate, survivor)
    await hear(records, merged(duplicate, survivor))
    record_id = await submit(records, duplicate[1])
    assert await owners(records) == {record_id: survivor}
    assert await shown(records, survivor[0]) == {record_id}
    assert await merge_history(records, record_id) == [f"from {duplicate[0]} to {survivor[0]}"]
    assert await events(records) == [("record.created", [str(survivor[0])], [str(record_id)])]
    stored = await records.records.get(record_id, Level.RESTRICTED)
    assert stored.record.content_hash == stored.record.fields_hash(stored.version.fields)


async def test_a_load_for_the_duplicate_after_its_merge_was_heard_goes_to_the_survivor(
    records: RecordsApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    duplicate, survivor, other = keys(), keys(), keys()
    answering(records, monkeypatch, duplicate, survivor, other)
    await hear(records, merged(duplicate, survivor))
    await load(records, [duplicate[1], other[1], duplicate[1], survivor[1]])
    stored = await owners(records)
    assert sorted(stored.values()) == sorted([survivor, survivor, survivor, other])
    moved = [i for i, owner in stored.items() if owner == survivor]
    assert [len(await merge_history(records, i)) for i in moved].count(1) == 2
    [(kind, subjects, _)] = await events(records)
    assert kind == "record.created"
    assert sorted(subjects) == sorted([str(survivor[0])] * 3 + [str(other[0])])
    async with records.db.read() as conn:
        hashes = await conn.execute(
            sa.select(t.records.c.id, t.records.c.content_hash).where(
                t.records.c.subject_id == survivor[0]
            )
        )
        for record_id, digest in hashes:
            view = await records.records.get(record_id, Level.RESTRICTED)
            assert digest == view.record.fields_hash(view.version.fields)


async def test_a_merge_heard_again_moves_nothing_twice(
    records: RecordsApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    duplicate, survivor = keys(), keys()
    answering(records, monkeypatch, duplicate, survivor)
    record_id = await submit(records, duplicate[1])
    envelope = merged(duplicate, survivor)
    await hear(records, envelope)
    await hear(records, envelope)
    assert await owners(records) == {record_id: survivor}
    assert len(await merge_history(records, record_id)) == 1
    assert [e[0] for e in await events(records)] == ["record.created", "record.marked:moved"]


async def test_a_merge_and_a_record_for_the_duplicate_at_once_take_turns(
    records: RecordsApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replica stores a record for the duplicate while another merges it: the storing
    waits for the merge, then sees it."""
    duplicate, survivor = keys(), keys()
    answering(records, monkeypatch, duplicate, survivor)
    async with records.db.transaction() as conn:
        await records.consumers.handlers()["subject.merged"](conn, merged(duplicate, survivor))
        storing = asyncio.create_task(submit(records, duplicate[1]))
        await asyncio.sleep(WAIT)
        assert not storing.done(), "it went ahead without waiting for the merge"
    record_id = await storing
    assert await owners(records) == {record_id: survivor}


async def test_a_merge_heard_while_a_record_for_the_duplicate_is_being_stored_moves_it(
    records: RecordsApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other way round: the record is stored (its merge looked up, none found) and not
    committed yet when another replica hears the merge, which waits for it and moves it."""
    duplicate, survivor = keys(), keys()
    answering(records, monkeypatch, duplicate, survivor)
    storing, go_on = await stored_uncommitted(records, monkeypatch, duplicate[1])
    merging = asyncio.create_task(hear(records, merged(duplicate, survivor)))
    await asyncio.sleep(WAIT)
    assert not merging.done(), "it went ahead without waiting for the record being stored"
    go_on.set()
    record_id = await storing
    await merging
    assert await owners(records) == {record_id: survivor}
    assert await merge_history(records, record_id) == [f"from {duplicate[0]} to {survivor[0]}"]


@pytest.mark.parametrize("first", ["A into B", "B into C"])
async def test_two_merges_of_a_chain_at_once_take_turns(
    records: RecordsApp, monkeypatch: pytest.MonkeyPatch, first: str
) -> None:
    a, b, c = keys(), keys(), keys()
    answering(records, monkeypatch, a, b, c)
    of_a, of_b = await submit(records, a[1]), await submit(records, b[1])
    merges = {"A into B": merged(a, b), "B into C": merged(b, c)}
    second = next(k for k in merges if k != first)
    async with records.db.transaction() as conn:
        await records.consumers.handlers()["subject.merged"](conn, merges[first])
        other = asyncio.create_task(hear(records, merges[second]))
        await asyncio.sleep(WAIT)
        assert not other.done(), "it went ahead without waiting for the other merge"
    await other
    assert await owners(records) == {of_a: c, of_b: c}


async def test_a_merge_heard_over_a_chain_written_before_keeps_every_step_one_long(
    records: RecordsApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """X into A, B into C, then A into B: X's row pointed at B, itself merged."""
    x, a, b, c = keys(), keys(), keys(), keys()
    answering(records, monkeypatch, x, a, b, c)
    for duplicate, survivor in ((x, a), (b, c), (a, b)):
        await hear(records, merged(duplicate, survivor))
    async with records.db.read() as conn:
        rows = await conn.execute(
            sa.select(t.merged_subjects.c.subject_id, t.merged_subjects.c.survivor_id)
        )
        assert dict(rows.all()) == {x[0]: c[0], a[0]: c[0], b[0]: c[0]}


@pytest.mark.skipif(BACKEND != "postgres", reason="the locks are PostgreSQL's")
async def test_a_merge_waits_a_bounded_time_for_a_record_being_stored_then_is_retried(
    records: RecordsApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A merge waiting for the storing of records on its stripe queues every later storing
    there behind it: an atomic load holding its stripes for an hour stopped record writing
    for that hour. It now gives up after MERGE_LOCK_WAIT_MS, and its event is retried."""
    monkeypatch.setattr(merges, "MERGE_LOCK_WAIT_MS", 100)
    duplicate, survivor = keys(), keys()
    answering(records, monkeypatch, duplicate, survivor)
    storing, go_on = await stored_uncommitted(records, monkeypatch, duplicate[1])
    with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
        await asyncio.wait_for(hear(records, merged(duplicate, survivor)), 10)
    go_on.set()
    record_id = await storing
    await hear(records, merged(duplicate, survivor))  # the event again, later
    assert await owners(records) == {record_id: survivor}
    async with records.db.transaction() as conn:  # the wait is the merge's alone
        await merges.lock_subjects(conn, [duplicate[0]], shared=False)
        assert await conn.scalar(sa.text("SHOW lock_timeout")) == "0"
