"""The lists service's handlers of records' and the registry's events, in the orders the
consumer can produce (a failing event is retried later, after the ones that followed it;
replicas work through different batches at once; streams are not ordered with each other):
a record withdrawn before its creation is heard lists nobody, and no entry is left under a
merged subject, whatever the order, and when two replicas handle both at the same moment."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncConnection

from credit.events.v1 import envelope_pb2, lists_pb2, records_pb2, subject_pb2
from credit_common.consumer import StreamConsumer
from credit_common.directory import SubjectRef
from credit_common.errors import InvalidArgument
from credit_common.timeutil import utcnow
from credit_lists.adapters import tables as t
from credit_lists.adapters.records_client import RecordBasis
from credit_lists.bootstrap import ListsApp, build, migrate
from credit_lists.domain.model import State
from credit_lists.service_layer import commands
from credit_lists.settings import ListsSettings
from support.processes import free_port

COURT = commands.Caller("lo_court", "court")
# How long a second handler is given to get as far as it can while the first one's
# transaction is open: it must then be waiting for that one to end.
WAIT = 0.5


@pytest.fixture
async def lists(database_url: str, tmp_path: Path) -> AsyncIterator[ListsApp]:
    """The lists service's parts on their own database; the registry and records are not
    there (nothing here asks them but what a test stands in for)."""
    settings = ListsSettings(
        database_url=database_url,
        var_dir=tmp_path,
        registry_address=f"127.0.0.1:{free_port()}",
        records_address=f"127.0.0.1:{free_port()}",
    )
    migrate(settings)
    app = build(settings)
    await app.start()
    yield app
    await app.stop()


def envelope(kind: str, payload: Any) -> envelope_pb2.Envelope:
    message = envelope_pb2.Envelope(event_id=str(uuid.uuid4()), type=kind)
    message.occurred_at.FromDatetime(utcnow())
    message.payload.Pack(payload)
    return message


async def hear(app: ListsApp, kind: str, payload: Any) -> None:
    """The consumer handles one event, in its own transaction."""
    async with app.db.transaction() as conn:
        await app.consumers.handlers()[kind](conn, envelope(kind, payload))


@asynccontextmanager
async def hearing(app: ListsApp, kind: str, payload: Any) -> AsyncIterator[AsyncConnection]:
    """A replica handles one event and has not committed yet: it commits when the block ends."""
    async with app.db.transaction() as conn:
        await app.consumers.handlers()[kind](conn, envelope(kind, payload))
        yield conn


async def meanwhile(app: ListsApp, kind: str, payload: Any) -> asyncio.Task[None]:
    """Another replica handles an event while the first one's transaction is open: it
    waits for that one to end (and then sees what it did), so it is not done yet."""
    other = asyncio.create_task(hear(app, kind, payload))
    await asyncio.sleep(WAIT)
    assert not other.done(), "it went ahead without waiting for the other transaction"
    return other


def court_record(subject_id: uuid.UUID, key: str) -> records_pb2.RecordSummary:
    """A new court_dishonest record (its listing rule lists the subject as a dishonest
    debtor, effective at once)."""
    return records_pb2.RecordSummary(
        record_id=str(uuid.uuid4()),
        subject_id=str(subject_id),
        subject_key=key,
        item_code="court_dishonest",
        department="court",
        source_ref=f"(2026)沪01执{uuid.uuid4().hex[:6]}号",
        decided_on=(utcnow().date() - dt.timedelta(days=3)).isoformat(),
        version=1,
        status="active",
    )


def created(*records: records_pb2.RecordSummary) -> records_pb2.RecordsCreated:
    return records_pb2.RecordsCreated(records=list(records))


def withdrawn(record: records_pb2.RecordSummary) -> records_pb2.RecordWithdrawn:
    return records_pb2.RecordWithdrawn(record=record, reason="filed against the wrong subject")


def merged(
    duplicate: uuid.UUID, duplicate_key: str, survivor: uuid.UUID, survivor_key: str
) -> subject_pb2.SubjectMerged:
    return subject_pb2.SubjectMerged(
        subject_id=str(duplicate),
        merged_code=duplicate_key,
        survivor_id=str(survivor),
        survivor_code=survivor_key,
        reason="重复登记",
    )


async def listed(app: ListsApp, subject_id: uuid.UUID) -> list[tuple[str, str, list[str]]]:
    """The subject's current entries, as a status read finds them: (key, state, bases)."""
    status = await app.entries.status(subject_id, include_past=False)
    return [(e.subject_key, e.state.value, e.basis_record_ids) for e in status.entries]


async def all_entries(app: ListsApp) -> list[tuple[uuid.UUID, str, str]]:
    async with app.db.read() as conn:
        rows = await conn.execute(
            sa.select(t.entries.c.subject_id, t.entries.c.subject_key, t.entries.c.state)
        )
        return [(r.subject_id, r.subject_key, r.state) for r in rows]


async def stored_under(app: ListsApp, subject_id: uuid.UUID) -> list[uuid.UUID]:
    """The subjects of the entries stored under `subject_id` (a status read by a merged
    subject's id shows its survivor's entries, so it cannot tell)."""
    return [s for s, _, _ in await all_entries(app) if s == subject_id]


async def entry_events(app: ListsApp) -> list[tuple[str, str]]:
    """The entry events written so far: (type, subject key the event names)."""
    async with app.db.read() as conn:
        rows = (
            await conn.execute(
                sa.select(t.outbox.c.event_type, t.outbox.c.envelope).order_by(t.outbox.c.seq)
            )
        ).all()
    found = []
    for kind, raw in rows:
        message = envelope_pb2.Envelope.FromString(bytes(raw))
        if kind == "entry.marked":
            marked = lists_pb2.EntriesMarked()
            message.payload.Unpack(marked)
            found.append((f"{kind}:{marked.mark}", message.subject_code))
        else:
            changed = lists_pb2.EntryChanged()
            message.payload.Unpack(changed)
            found.append((kind, changed.subject_key))
    return found


def keys() -> tuple[uuid.UUID, str]:
    return uuid.uuid4(), f"91310115MA{uuid.uuid4().hex[:8].upper()}"


# -- a record withdrawn before its creation is heard -------------------------------------


async def test_a_record_withdrawn_before_its_creation_is_heard_lists_nobody(
    lists: ListsApp,
) -> None:
    """record.created failed once and is taken again after record.withdrawn: the listing
    rule must not list the subject on a record that no longer stands (nothing would ever
    withdraw that entry). The other record of the same batch still lists it."""
    subject, key = keys()
    gone, kept = court_record(subject, key), court_record(subject, key)
    await hear(lists, "record.withdrawn", withdrawn(gone))
    await hear(lists, "record.created", created(gone, kept))
    assert await listed(lists, subject) == [(key, "effective", [kept.record_id])]
    status = await lists.entries.status(subject, include_past=True)
    assert [e.basis_record_ids for e in status.entries] == [[kept.record_id]]
    await hear(lists, "record.withdrawn", withdrawn(kept))
    assert await listed(lists, subject) == []
    assert not (await lists.entries.status(subject, include_past=False)).restricted


@pytest.mark.parametrize("first", ["record.created", "record.withdrawn"])
async def test_a_creation_and_a_withdrawal_heard_at_once_by_two_replicas_take_turns(
    lists: ListsApp, first: str
) -> None:
    """Two replicas handle record.created and record.withdrawn at the same moment: the
    second waits for the first's commit and sees what it did. Created first: its entry is
    then withdrawn; withdrawn first: the creation lists nobody."""
    subject, key = keys()
    record = court_record(subject, key)
    events: dict[str, Any] = {
        "record.created": created(record),
        "record.withdrawn": withdrawn(record),
    }
    second = next(k for k in events if k != first)
    async with hearing(lists, first, events[first]):
        other = await meanwhile(lists, second, events[second])
    await other
    assert await listed(lists, subject) == []
    past = await lists.entries.status(subject, include_past=True)
    if first == "record.created":
        assert [e.state for e in past.entries] == [State.WITHDRAWN]
    else:
        assert past.entries == []


async def test_a_creation_heard_again_under_another_event_id_lists_nobody_twice(
    lists: ListsApp,
) -> None:
    """The consumer dedupes by event id: the same record.created sent again as a new event
    (a resend, a replay) must not list the subject a second time on the same record, also
    once the first entry has been withdrawn. Another record still lists it."""
    subject, key = keys()
    record = court_record(subject, key)
    await hear(lists, "record.created", created(record))
    await hear(lists, "record.created", created(record))
    assert await listed(lists, subject) == [(key, "effective", [record.record_id])]
    (entry,) = (await lists.entries.status(subject, include_past=False)).entries
    await lists.entries.remove(commands.Remove(COURT, entry.id, "履行完毕"))
    await hear(lists, "record.created", created(record))
    assert await listed(lists, subject) == []
    other = court_record(subject, key)
    await hear(lists, "record.created", created(record, other))
    assert await listed(lists, subject) == [(key, "effective", [other.record_id])]
    assert len(await all_entries(lists)) == 2


async def test_one_creation_heard_at_once_by_two_replicas_lists_the_subject_once(
    lists: ListsApp,
) -> None:
    """Two replicas handle the same record.created under two event ids at the same moment:
    the second waits for the first's commit and then finds its entry."""
    subject, key = keys()
    record = court_record(subject, key)
    async with hearing(lists, "record.created", created(record)):
        other = await meanwhile(lists, "record.created", created(record))
    await other
    assert await listed(lists, subject) == [(key, "effective", [record.record_id])]
    assert len(await all_entries(lists)) == 1


async def test_a_proposal_on_a_record_withdrawn_after_it_was_checked_is_refused(
    lists: ListsApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The records service said the basis record stood; its withdrawal was heard before the
    proposal was stored: the proposal is refused, as it is when the records service says
    so (no withdrawal would come again to withdraw the entry)."""
    subject, key = keys()
    record = court_record(subject, key)

    async def resolve(codes: list[str]) -> dict[str, SubjectRef | None]:
        return {c: SubjectRef(subject, key, False) for c in codes}

    async def basis(record_id: str) -> RecordBasis:
        answer = RecordBasis(subject, "active")  # the record stood when asked
        await hear(lists, "record.withdrawn", withdrawn(record))  # then withdrawn, heard
        return answer

    monkeypatch.setattr(lists.entries.directory, "resolve", resolve)
    monkeypatch.setattr(lists.entries.records, "basis", basis)
    propose = commands.Propose(
        COURT, key, "court_dishonest_debtor", "拒不履行", "执1号", [record.record_id]
    )
    with pytest.raises(InvalidArgument) as refused:
        await lists.entries.propose(propose)
    assert [(v.field, v.message) for v in refused.value.violations] == [
        ("basis_record_ids", f"record {record.record_id} is withdrawn")
    ]
    assert await all_entries(lists) == []


# -- no entry left under a merged subject --------------------------------------------------


async def test_an_entry_listed_after_its_subjects_merge_was_heard_goes_to_the_survivor(
    lists: ListsApp,
) -> None:
    """subject.merged (the registry's stream) heard before record.created (the records'
    stream) naming the duplicate: the entry is stored under the survivor, where the status
    read and the restriction check look, and says why."""
    duplicate, duplicate_key = keys()
    survivor, survivor_key = keys()
    await hear(lists, "subject.merged", merged(duplicate, duplicate_key, survivor, survivor_key))
    record = court_record(duplicate, duplicate_key)
    await hear(lists, "record.created", created(record))
    assert await listed(lists, survivor) == [(survivor_key, "effective", [record.record_id])]
    assert (await lists.entries.status(survivor, include_past=False)).restricted
    assert await stored_under(lists, duplicate) == []
    # Read by the duplicate's id (its code resolved before the merge was heard): the
    # survivor's entries, which the duplicate now stands for.
    assert await listed(lists, duplicate) == await listed(lists, survivor)
    [(entry_id,)] = [
        (e.id,) for e in (await lists.entries.status(survivor, include_past=True)).entries
    ]
    history = (await lists.entries.get(entry_id)).history
    assert [h.reason for h in history][:2] == [
        f"listed by rule from record {record.record_id}",
        f"subject {duplicate_key} merged into {survivor_key}",
    ]
    assert await entry_events(lists) == [
        ("entry.proposed", survivor_key),
        ("entry.effective", survivor_key),
    ]


async def test_a_proposal_resolved_to_the_duplicate_before_the_merge_goes_to_the_survivor(
    lists: ListsApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registry resolved the code to the duplicate just before the merge; the merge is
    heard before the proposal is stored: the entry goes to the survivor."""
    duplicate, duplicate_key = keys()
    survivor, survivor_key = keys()

    async def resolve(codes: list[str]) -> dict[str, SubjectRef | None]:
        await hear(
            lists, "subject.merged", merged(duplicate, duplicate_key, survivor, survivor_key)
        )
        return {c: SubjectRef(duplicate, duplicate_key, False) for c in codes}

    monkeypatch.setattr(lists.entries.directory, "resolve", resolve)
    entry = await lists.entries.propose(
        commands.Propose(COURT, duplicate_key, "court_dishonest_debtor", "拒不履行", "执2号")
    )
    assert (entry.subject_id, entry.subject_key) == (survivor, survivor_key)
    assert await listed(lists, survivor) == [(survivor_key, "effective", [])]
    assert await stored_under(lists, duplicate) == []


async def test_merges_of_a_chain_heard_in_reverse_order_bring_every_entry_to_the_last_survivor(
    lists: ListsApp,
) -> None:
    """A into B, then B into C, heard the other way round (A into B failed once): A's
    entries go to C, not to B (merged itself); entries stored later for A or B go to C."""
    (a, ka), (b, kb), (c, kc) = keys(), keys(), keys()
    first, second = court_record(a, ka), court_record(b, kb)
    await hear(lists, "record.created", created(first, second))
    await hear(lists, "subject.merged", merged(b, kb, c, kc))
    await hear(lists, "subject.merged", merged(a, ka, b, kb))
    assert await stored_under(lists, a) == [] and await stored_under(lists, b) == []
    assert sorted(await listed(lists, c)) == sorted(
        [(kc, "effective", [first.record_id]), (kc, "effective", [second.record_id])]
    )
    late_a, late_b = court_record(a, ka), court_record(b, kb)
    await hear(lists, "record.created", created(late_a, late_b))
    assert {s for s, _k, _st in await all_entries(lists)} == {c}
    assert len(await listed(lists, c)) == 4
    moved = [e for e in await entry_events(lists) if e[0] == "entry.marked:moved"]
    assert moved == [("entry.marked:moved", kc), ("entry.marked:moved", kc)]


async def test_a_merge_heard_over_a_chain_written_before_keeps_every_step_one_long(
    lists: ListsApp,
) -> None:
    """X into A, B into C, then A into B: X's row pointed at B, itself merged."""
    (x, kx), (a, ka), (b, kb), (c, kc) = keys(), keys(), keys(), keys()
    for merge in (merged(x, kx, a, ka), merged(b, kb, c, kc), merged(a, ka, b, kb)):
        await hear(lists, "subject.merged", merge)
    async with lists.db.read() as conn:
        rows = await conn.execute(
            sa.select(t.merged_subjects.c.subject_id, t.merged_subjects.c.survivor_id)
        )
        assert dict(rows.all()) == {x: c, a: c, b: c}


async def test_merges_of_a_chain_heard_in_order_send_later_entries_to_the_last_survivor(
    lists: ListsApp,
) -> None:
    (a, ka), (b, kb), (c, kc) = keys(), keys(), keys()
    await hear(lists, "record.created", created(court_record(a, ka)))
    await hear(lists, "subject.merged", merged(a, ka, b, kb))
    await hear(lists, "subject.merged", merged(b, kb, c, kc))
    await hear(lists, "record.created", created(court_record(a, ka), court_record(b, kb)))
    assert {(s, k) for s, k, _st in await all_entries(lists)} == {(c, kc)}
    assert len(await listed(lists, c)) == 3


@pytest.mark.parametrize("first", ["record.created", "subject.merged"])
async def test_a_merge_and_an_entry_for_the_duplicate_at_once_in_two_replicas_take_turns(
    lists: ListsApp, first: str
) -> None:
    """Two replicas: one stores an entry for the duplicate while the other merges it. The
    second waits for the first; either way the entry ends under the survivor."""
    duplicate, duplicate_key = keys()
    survivor, survivor_key = keys()
    events: dict[str, Any] = {
        "record.created": created(court_record(duplicate, duplicate_key)),
        "subject.merged": merged(duplicate, duplicate_key, survivor, survivor_key),
    }
    second = next(k for k in events if k != first)
    async with hearing(lists, first, events[first]):
        other = await meanwhile(lists, second, events[second])
    await other
    assert await all_entries(lists) == [(survivor, survivor_key, "effective")]
    assert (await lists.entries.status(survivor, include_past=False)).restricted


@pytest.mark.parametrize("first", ["A into B", "B into C"])
async def test_two_merges_of_a_chain_at_once_in_two_replicas_take_turns(
    lists: ListsApp, first: str
) -> None:
    """A into B and B into C handled at the same moment by two replicas: whichever commits
    first, A's and B's entries end under C."""
    (a, ka), (b, kb), (c, kc) = keys(), keys(), keys()
    await hear(lists, "record.created", created(court_record(a, ka), court_record(b, kb)))
    merges = {"A into B": merged(a, ka, b, kb), "B into C": merged(b, kb, c, kc)}
    second = next(k for k in merges if k != first)
    async with hearing(lists, "subject.merged", merges[first]):
        other = await meanwhile(lists, "subject.merged", merges[second])
    await other
    assert {(s, k) for s, k, _st in await all_entries(lists)} == {(c, kc)}
    await hear(lists, "record.created", created(court_record(a, ka)))
    assert len(await listed(lists, c)) == 3


# -- through the stream consumer ------------------------------------------------------------


async def test_a_creation_retried_after_the_withdrawal_that_followed_it_lists_nobody(
    lists: ListsApp, redis: Redis
) -> None:
    """The real consumer: record.created fails once (a passing fault) and stays pending;
    record.withdrawn, behind it on the stream, is applied; the creation, taken again once
    idle, lists nobody."""
    stream = f"credit.events.records.order-{uuid.uuid4().hex[:8]}"
    handlers = lists.consumers.handlers()
    failures = 1

    async def once_failing(conn: AsyncConnection, message: envelope_pb2.Envelope) -> None:
        nonlocal failures
        if failures:
            failures -= 1
            raise RuntimeError("a passing fault")
        await handlers["record.created"](conn, message)

    consumer = StreamConsumer(
        lists.db,
        redis,
        t.processed_events,
        stream=stream,
        group="lists",
        consumer="lists-a",
        handlers={**handlers, "record.created": once_failing},
        reclaim_idle_ms=200,
    )
    await consumer.ensure_group()
    subject, key = keys()
    record = court_record(subject, key)
    for kind, payload in (("record.created", created(record)), ("record.withdrawn", None)):
        message = envelope(kind, payload or withdrawn(record))
        await redis.xadd(stream, {"envelope": message.SerializeToString()})
    assert await consumer.consume_once(block_ms=100) == 2  # the creation failed, pending
    assert failures == 0
    await asyncio.sleep(0.3)
    assert await consumer.reclaim() == 1
    assert (await redis.xpending(stream, "lists"))["pending"] == 0
    assert await all_entries(lists) == []


async def test_a_check_by_a_code_resolved_before_its_merge_was_heard_finds_the_moved_entries(
    lists: ListsApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replica's directory still answers the duplicate's code with the duplicate (its
    answer kept a few seconds) after the merge moved the duplicate's entries to the
    survivor: the restriction check follows the merge, and answers for the survivor."""
    duplicate, duplicate_key = keys()
    survivor, survivor_key = keys()
    other, other_key = keys()
    await hear(lists, "record.created", created(court_record(duplicate, duplicate_key)))
    await hear(lists, "subject.merged", merged(duplicate, duplicate_key, survivor, survivor_key))
    stale = {
        duplicate_key: SubjectRef(duplicate, duplicate_key, False),
        other_key: SubjectRef(other, other_key, False),
    }

    async def resolve(codes: list[str]) -> dict[str, SubjectRef | None]:
        return {c: stale.get(c) for c in codes}

    monkeypatch.setattr(lists.entries.directory, "resolve", resolve)
    checked = await lists.entries.check([duplicate_key, other_key], [])
    by_code = {c.code: c for c in checked.results}
    assert by_code[duplicate_key].restricted
    assert by_code[duplicate_key].canonical_code == survivor_key
    assert [e.subject_id for e in by_code[duplicate_key].triggering] == [survivor]
    assert by_code[other_key].found and not by_code[other_key].restricted
