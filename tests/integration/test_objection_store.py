"""The objections service's store and event handlers on a real database (no other service)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from credit.events.v1 import envelope_pb2, lists_pb2, records_pb2, subject_pb2
from credit_common.errors import DomainError, InvalidArgument
from credit_common.timeutil import utcnow
from credit_objections import bootstrap
from credit_objections.adapters import tables
from credit_objections.adapters.repository import ObjectionRepository, RepairRepository
from credit_objections.bootstrap import ObjectionsApp
from credit_objections.domain.cases import Actor, Subject, TargetRef
from credit_objections.domain.objections import Objection, State
from credit_objections.domain.repairs import Repair
from credit_objections.entrypoints import convert
from credit_objections.service_layer import commands
from credit_objections.service_layer.guards import filed_under, refuse_vanished, settle_filing
from credit_objections.service_layer.objections import closed_event
from credit_objections.settings import ObjectionsSettings
from support.processes import free_port

HANDLER = Actor("cl_centre", "development_reform")
WINDOW = Actor("cl_window", "development_reform")


@pytest.fixture
async def objections_app(database_url: str, tmp_path: Path) -> AsyncIterator[ObjectionsApp]:
    dead = f"127.0.0.1:{free_port()}"
    settings = ObjectionsSettings(
        database_url=database_url,
        var_dir=tmp_path,
        registry_address=dead,
        records_address=dead,
        lists_address=dead,
    )
    bootstrap.migrate(settings)
    app = bootstrap.build(settings)
    yield app
    await app.stop()


def unsaved(
    app: ObjectionsApp,
    *,
    target: TargetRef | None = None,
    subject: Subject | None = None,
    at: dt.datetime | None = None,
    filer: Actor = WINDOW,
) -> Objection:
    """An objection as filing makes it, not yet stored."""
    return Objection.file(
        target=target or TargetRef("record", str(uuid.uuid4())),
        subject=subject or Subject(uuid.uuid4(), "91310115MA1K3YJ12X", False),
        source_department="market_regulation",
        reason="有误",
        evidence=(),
        filer=filer,
        at=at or utcnow(),
        schedule=app.objections.schedule,
    )


async def stored(
    app: ObjectionsApp,
    *,
    filed_days_ago: float,
    subject: Subject | None = None,
    target: TargetRef | None = None,
    accepted: bool = False,
    filer: Actor = WINDOW,
) -> Objection:
    """An objection filed (and perhaps accepted) at a past moment, as the use case stores it."""
    at = utcnow() - dt.timedelta(days=filed_days_ago)
    objection = unsaved(app, target=target, subject=subject, at=at, filer=filer)
    if accepted:
        objection.accept(HANDLER, "受理", at, app.objections.schedule)
    async with app.db.transaction() as conn:
        await ObjectionRepository(conn).add(objection)
    return objection


def envelope(kind: str, payload: Any) -> envelope_pb2.Envelope:
    message = envelope_pb2.Envelope(event_id=str(uuid.uuid4()), type=kind)
    message.occurred_at.FromDatetime(utcnow())
    message.payload.Pack(payload)
    return message


async def outbox_types(app: ObjectionsApp) -> list[str]:
    async with app.db.read() as conn:
        rows = await conn.scalars(
            sa.select(tables.outbox.c.event_type).order_by(tables.outbox.c.seq)
        )
        return list(rows)


async def test_the_overdue_listing_holds_open_objections_past_their_due_date_soonest_first_then_those_that_missed_one(
    objections_app: ObjectionsApp,
) -> None:
    app = objections_app
    oldest = await stored(app, filed_days_ago=30)
    older = await stored(app, filed_days_ago=20)
    await stored(app, filed_days_ago=0)  # due in two working days
    accepted_late = await stored(app, filed_days_ago=20, accepted=True)  # verify_due passed too
    closed_late = await stored(app, filed_days_ago=40)
    closed_in_time = await stored(app, filed_days_ago=0)
    # Accepted today, three weeks after its filing: not due now, but it missed a date.
    caught_up = await stored(app, filed_days_ago=21)
    for case in (closed_late, closed_in_time):
        version = case.version
        step = case.reject(HANDLER, "不予受理", utcnow())
        async with app.db.transaction() as conn:
            assert await ObjectionRepository(conn).save(case, version, step)
    version = caught_up.version
    step = caught_up.accept(HANDLER, "受理", utcnow(), app.objections.schedule)
    async with app.db.transaction() as conn:
        assert await ObjectionRepository(conn).save(caught_up, version, step)

    found, nxt = await app.objections.list(commands.Listing(overdue_only=True))
    assert [o.id for o in found] == [
        oldest.id,
        older.id,
        accepted_late.id,
        caught_up.id,  # due in five working days, and overdue since its acceptance came late
        closed_late.id,
    ]
    assert nxt is None and all(o.overdue(utcnow()) for o in found)
    now = utcnow()
    assert all(convert.objection_to_pb(o, now).overdue for o in found)  # as answered
    assert convert.objection_to_pb(found[3], now).missed_due_at.ToDatetime(dt.UTC) == (
        caught_up.missed_due_at
    )
    fresh, _ = await app.objections.list(commands.Listing(state="submitted"))
    assert [convert.objection_to_pb(o, now).overdue for o in fresh] == [True, True, False]
    first, token = await app.objections.list(commands.Listing(overdue_only=True, page_size=3))
    rest, _ = await app.objections.list(
        commands.Listing(overdue_only=True, page_size=3, after=token)
    )
    assert [o.id for o in first + rest] == [o.id for o in found]
    open_ones, _ = await app.objections.list(commands.Listing(state="open", overdue_only=True))
    assert [o.id for o in open_ones] == [o.id for o in found[:4]]
    everything, _ = await app.objections.list(commands.Listing())
    assert {o.id for o in everything[-2:]} == {closed_late.id, closed_in_time.id}
    assert len(everything) == 7  # closed ones last
    verifying, _ = await app.objections.list(commands.Listing(state="verifying"))
    assert [o.id for o in verifying] == [accepted_late.id, caught_up.id]


@pytest.mark.parametrize("state", ["open", ""])
async def test_a_case_closed_between_two_pages_moves_no_other_off_the_next(
    objections_app: ObjectionsApp, state: str
) -> None:
    """Pages resume after the last case shown: with offsets, the first page's case closed
    in between would have pushed the next page's first case onto the page already read."""
    app = objections_app
    cases = [await stored(app, filed_days_ago=days) for days in (40, 30, 20, 10, 0)]
    first, token = await app.objections.list(commands.Listing(state=state, page_size=2))
    assert [o.id for o in first] == [o.id for o in cases[:2]] and token is not None
    version = first[0].version
    step = first[0].reject(HANDLER, "不予受理", utcnow())
    async with app.db.transaction() as conn:
        assert await ObjectionRepository(conn).save(first[0], version, step)
    second, token = await app.objections.list(
        commands.Listing(state=state, page_size=2, after=token)
    )
    assert [o.id for o in second] == [o.id for o in cases[2:4]]
    last, token = await app.objections.list(commands.Listing(state=state, page_size=2, after=token))
    # Every state: the closed one comes again at the end, where closed ones are listed.
    assert [o.id for o in last] == [cases[4].id] + ([cases[0].id] if not state else [])
    assert token is None


async def test_the_closed_ones_are_paged_newest_first_and_the_same_filing_time_by_id(
    objections_app: ObjectionsApp,
) -> None:
    app = objections_app
    cases = [await stored(app, filed_days_ago=days) for days in (3, 3, 2, 1)]
    for case in cases:
        version = case.version
        step = case.reject(HANDLER, "不予受理", utcnow())
        async with app.db.transaction() as conn:
            assert await ObjectionRepository(conn).save(case, version, step)
    async with app.db.transaction() as conn:  # two filed at the same moment
        await conn.execute(
            sa.update(tables.objections)
            .where(tables.objections.c.id.in_([cases[0].id, cases[1].id]))
            .values(filed_at=cases[0].filed_at)
        )
    everything, _ = await app.objections.list(commands.Listing(page_size=10))
    shown: list[Objection] = []
    page, token = await app.objections.list(commands.Listing(page_size=1))
    for _ in range(len(cases)):  # one page a case, or the paging went wrong
        shown += page
        if token is None:
            break
        page, token = await app.objections.list(commands.Listing(page_size=1, after=token))
    assert [o.id for o in shown] == [o.id for o in everything]
    assert [(o.filed_at, str(o.id)) for o in shown] == sorted(
        ((o.filed_at, str(o.id)) for o in shown), key=lambda k: (-k[0].timestamp(), k[1])
    )
    assert len({o.filed_at for o in shown}) == 3 and len(shown) == 4


async def test_of_two_steps_read_from_the_same_version_only_the_first_is_saved(
    objections_app: ObjectionsApp,
) -> None:
    app = objections_app
    objection = await stored(app, filed_days_ago=0)
    async with app.db.read() as conn:
        one = await ObjectionRepository(conn).get(objection.id)
        two = await ObjectionRepository(conn).get(objection.id)
    assert one is not None and two is not None
    accept = one.accept(HANDLER, "受理", utcnow(), app.objections.schedule)
    reject = two.reject(HANDLER, "不予受理", utcnow())
    async with app.db.transaction() as conn:
        assert await ObjectionRepository(conn).save(one, 1, accept)
    async with app.db.transaction() as conn:
        assert not await ObjectionRepository(conn).save(two, 1, reject)
    kept = await app.objections.get(objection.id)
    assert kept.state == State.VERIFYING and [s.action for s in kept.transitions] == [
        "file",
        "accept",
    ]


async def test_empty_corrected_fields_are_refused_and_absent_ones_still_mean_withdraw(
    objections_app: ObjectionsApp,
) -> None:
    """Direct callers too: {} is refused (it would change nothing, yet an upheld objection
    withdrew the record); no corrected fields at all still means withdraw."""
    app = objections_app
    objection = await stored(app, filed_days_ago=0, accepted=True)
    market = Actor("cl_market", "market_regulation")

    def verify(fields: dict[str, Any] | None) -> commands.Verify:
        return commands.Verify(market, objection.id, "error_confirmed", fields, "有误")

    with pytest.raises(InvalidArgument) as refused:
        await app.objections.verify(verify({}))
    assert refused.value.reason == "validation_failed"
    assert [v.field for v in refused.value.violations] == ["corrected_fields"]
    assert (await app.objections.get(objection.id)).state == State.VERIFYING
    verified = await app.objections.verify(verify(None))
    assert verified.state == State.VERIFIED and verified.corrected_fields is None
    upheld = await app.objections.decide(
        commands.Decide(HANDLER, objection.id, "upheld", "处罚决定已撤销")
    )
    closed = closed_event(upheld, upheld.transitions[-1]).payload
    assert not closed.HasField("corrected_fields")  # the records service withdraws the record


async def test_a_withdrawn_record_or_a_removed_entry_closes_their_open_objections_once(
    objections_app: ObjectionsApp,
) -> None:
    app = objections_app
    record = TargetRef("record", str(uuid.uuid4()))
    entry = TargetRef("list_entry", str(uuid.uuid4()))
    on_record = await stored(app, filed_days_ago=1, target=record, accepted=True)
    on_entry = await stored(app, filed_days_ago=1, target=entry)
    untouched = await stored(app, filed_days_ago=1)
    handlers = app.consumers.handlers()
    withdrawn = records_pb2.RecordWithdrawn(
        record=records_pb2.RecordSummary(record_id=record.id), reason="撤销处罚决定"
    )
    removed = lists_pb2.EntryChanged(entry_id=entry.id, to_state="removed", reason="信用修复")
    for _ in range(2):  # a second delivery finds nothing open
        async with app.db.transaction() as conn:
            await handlers["record.withdrawn"](conn, envelope("record.withdrawn", withdrawn))
            await handlers["entry.removed"](conn, envelope("entry.removed", removed))
    for objection_id in (on_record.id, on_entry.id):
        closed = await app.objections.get(objection_id)
        assert closed.state == State.WITHDRAWN and closed.transitions[-1].actor == "objections"
    assert "撤销处罚决定" in (await app.objections.get(on_record.id)).transitions[-1].reason
    assert (await app.objections.get(untouched.id)).state == State.SUBMITTED
    assert await outbox_types(app) == ["objection.closed", "objection.closed"]


async def test_an_expired_record_closes_the_cases_filed_by_then_once_and_is_not_noted_gone(
    objections_app: ObjectionsApp,
) -> None:
    """Its retention over, the record's open cases filed by the moment it was told expired
    end; one filed after it stays open (the event heard late, after a correction kept the
    record longer), and a filing is left to the records service's answer."""
    app = objections_app
    record = TargetRef("record", str(uuid.uuid4()))
    objection = await stored(app, filed_days_ago=2, target=record, accepted=True)
    repair = Repair.apply(
        target=record,
        subject=Subject(uuid.uuid4(), "91310115MA1K3YJ12X", False),
        grounds="已整改",
        evidence=(),
        commitment=True,
        filer=WINDOW,
        at=utcnow() - dt.timedelta(days=2),
        schedule=app.repairs.schedule,
    )
    async with app.db.transaction() as conn:
        await RepairRepository(conn).add(repair)
    other_window = Actor("cl_other_window", "development_reform")
    filed_later = await stored(app, filed_days_ago=0, target=record, filer=other_window)
    untouched = await stored(app, filed_days_ago=2)
    expired = envelope(
        "record.expired",
        records_pb2.RecordExpired(
            record=records_pb2.RecordSummary(record_id=record.id, status="expired"),
            retention_until="2031-11-28",
        ),
    )
    expired.occurred_at.FromDatetime(utcnow() - dt.timedelta(days=1))
    for _ in range(2):  # a second delivery finds nothing open
        async with app.db.transaction() as conn:
            await app.consumers.handlers()["record.expired"](conn, expired)
    closed = await app.objections.get(objection.id)
    assert closed.state == State.WITHDRAWN and closed.transitions[-1].actor == "objections"
    assert "kept until 2031-11-28" in closed.transitions[-1].reason
    assert (await app.repairs.get(repair.id)).closed_at is not None
    assert (await app.objections.get(filed_later.id)).state == State.SUBMITTED
    assert (await app.objections.get(untouched.id)).state == State.SUBMITTED
    assert await outbox_types(app) == ["objection.closed"]
    async with app.db.transaction() as conn:
        await refuse_vanished(conn, record)


def withdrawn_event(record: TargetRef) -> envelope_pb2.Envelope:
    return envelope(
        "record.withdrawn",
        records_pb2.RecordWithdrawn(
            record=records_pb2.RecordSummary(record_id=record.id), reason="撤销处罚决定"
        ),
    )


async def test_a_filing_after_its_target_was_heard_withdrawn_is_refused(
    objections_app: ObjectionsApp,
) -> None:
    """The filing checked the target over gRPC before its transaction; the target went and
    its cases were closed meanwhile: the filing's transaction sees the note and is refused."""
    app = objections_app
    record = TargetRef("record", str(uuid.uuid4()))
    async with app.db.transaction() as conn:
        await app.consumers.handlers()["record.withdrawn"](conn, withdrawn_event(record))
    with pytest.raises(DomainError) as refused:
        async with app.db.transaction() as conn:
            await refuse_vanished(conn, record)
    assert refused.value.reason == "target_withdrawn" and "撤销处罚决定" in str(refused.value)
    async with app.db.transaction() as conn:  # another target is not held
        await refuse_vanished(conn, TargetRef("record", str(uuid.uuid4())))


async def test_a_target_going_while_a_filing_on_it_commits_closes_that_filing(
    objections_app: ObjectionsApp,
) -> None:
    """The closing waits for the filing in flight (the target's lock on PostgreSQL, the
    write lock on SQLite), then sees it and closes it: it does not stay open for good."""
    app = objections_app
    record = TargetRef("record", str(uuid.uuid4()))
    filing = unsaved(app, target=record, subject=Subject(uuid.uuid4(), "91310115MA1K3YJ12X", False))
    closing: asyncio.Task[None] | None = None
    async with app.db.transaction() as conn:
        repo = ObjectionRepository(conn)
        await repo.add(filing)  # as Objections.file does: the insert, then the checks
        await settle_filing(conn, repo, filing)

        async def close() -> None:
            async with app.db.transaction() as other:
                await app.consumers.handlers()["record.withdrawn"](other, withdrawn_event(record))

        closing = asyncio.create_task(close())
        await asyncio.sleep(0.5)
        assert not closing.done()  # waiting for the filing
    await asyncio.wait_for(closing, 30)
    assert (await app.objections.get(filing.id)).state == State.WITHDRAWN


async def test_a_merged_subjects_objections_follow_the_survivor(
    objections_app: ObjectionsApp,
) -> None:
    app = objections_app
    duplicate = Subject(uuid.uuid4(), "91310115MA1K3YJ12X", False)
    objection = await stored(app, filed_days_ago=1, subject=duplicate)
    survivor_id = uuid.uuid4()
    merged = subject_pb2.SubjectMerged(
        subject_id=str(duplicate.id),
        merged_code=duplicate.key,
        survivor_code="91310115MA1K3YJ21P",
        survivor_id=str(survivor_id),
    )
    async with app.db.transaction() as conn:
        await app.consumers.handlers()["subject.merged"](conn, envelope("subject.merged", merged))
    moved, _ = await app.objections.list(commands.Listing(subject_id=survivor_id))
    assert [o.id for o in moved] == [objection.id]
    assert moved[0].subject.key == "91310115MA1K3YJ21P"


def merged_event(duplicate: uuid.UUID, survivor: Subject) -> envelope_pb2.Envelope:
    return envelope(
        "subject.merged",
        subject_pb2.SubjectMerged(
            subject_id=str(duplicate),
            merged_code="dup",
            survivor_code=survivor.key,
            survivor_id=str(survivor.id),
        ),
    )


async def hear_merge(app: ObjectionsApp, duplicate: uuid.UUID, survivor: Subject) -> None:
    async with app.db.transaction() as conn:
        await app.consumers.handlers()["subject.merged"](conn, merged_event(duplicate, survivor))


def org(key: str) -> Subject:
    return Subject(uuid.uuid4(), key, False)


@pytest.mark.parametrize("order", ["in_order", "reversed"])
async def test_merges_heard_in_either_order_leave_every_case_and_filing_under_the_last_survivor(
    objections_app: ObjectionsApp, order: str
) -> None:
    """A merged into B, B into C: whichever is heard first, A's and B's cases end under C,
    and a filing that resolved A or B before the merges were heard is filed under C."""
    app = objections_app
    a, b, c = org("91310115MA1K3YJ12X"), org("91310115MA1K3YJ21P"), org("91310115MA1K3YJ30L")
    on_a = await stored(app, filed_days_ago=1, subject=a)
    on_b = await stored(app, filed_days_ago=1, subject=b)
    merges = [(a.id, b), (b.id, c)]
    for duplicate, survivor in merges if order == "in_order" else merges[::-1]:
        await hear_merge(app, duplicate, survivor)
    under_c, _ = await app.objections.list(commands.Listing(subject_id=c.id))
    assert {o.id for o in under_c} == {on_a.id, on_b.id}
    assert {o.subject.key for o in under_c} == {c.key}
    for late in (a, b):
        async with app.db.transaction() as conn:
            assert await filed_under(conn, late) == c
    filing = unsaved(app, target=TargetRef("record", str(uuid.uuid4())), subject=a)
    async with app.db.transaction() as conn:
        repo = ObjectionRepository(conn)
        await repo.add(filing)
        await settle_filing(conn, repo, filing)
    assert filing.subject == c and (await app.objections.get(filing.id)).subject == c
    async with app.db.transaction() as conn:
        assert await filed_under(conn, c) == c


async def test_a_merge_heard_while_a_filing_on_the_duplicate_commits_moves_that_filing(
    objections_app: ObjectionsApp,
) -> None:
    app = objections_app
    duplicate, survivor = org("91310115MA1K3YJ12X"), org("91310115MA1K3YJ21P")
    filing = unsaved(app, target=TargetRef("record", str(uuid.uuid4())), subject=duplicate)
    async with app.db.transaction() as conn:
        repo = ObjectionRepository(conn)
        await repo.add(filing)
        await settle_filing(conn, repo, filing)
        merging = asyncio.create_task(hear_merge(app, duplicate.id, survivor))
        await asyncio.sleep(0.5)
        assert not merging.done()  # waiting for the filing
    await asyncio.wait_for(merging, 30)
    assert (await app.objections.get(filing.id)).subject.id == survivor.id
