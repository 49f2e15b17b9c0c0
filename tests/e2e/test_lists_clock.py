"""The lists clock: due transitions are applied once, whatever the replicas, and reads
never wait for it."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from dataclasses import replace
from typing import Any

import grpc
import pytest
import sqlalchemy as sa

from credit.events.v1 import envelope_pb2, lists_pb2, objections_pb2, records_pb2
from credit.registry.v1 import registry_pb2 as rpb
from credit.registry.v1 import registry_pb2_grpc as rpb_grpc
from credit_common.directory import SubjectDirectory
from credit_common.errors import InvalidArgument
from credit_common.grpc_client import BackendUnavailable
from credit_common.timeutil import china_date, china_day_start, utcnow
from credit_lists.adapters import tables as t
from credit_lists.bootstrap import ListsApp, build
from credit_lists.domain.model import Entry, State
from credit_lists.service_layer import commands, retell
from credit_lists.service_layer import entries as entries_module
from support.processes import ServiceProcess, free_port

MARKET = commands.Caller("cl_market", "market_regulation")
COURT = commands.Caller("cl_court", "court")


async def register(registry: ServiceProcess, *, legacy: str = "") -> str:
    """A new organisation's unified code (with a legacy registration number, if given)."""
    async with grpc.aio.insecure_channel(registry.address) as channel:
        subject = await rpb_grpc.RegistryServiceStub(channel).RegisterSubject(
            rpb.RegisterSubjectRequest(
                kind=rpb.SUBJECT_KIND_ORGANIZATION,
                name="时钟测试有限公司",
                registration_authority="9",
                org_category="1",
                division_code="310115",
                legacy_codes=[rpb.LegacyCode(type="registration_number", value=legacy)]
                if legacy
                else [],
            ),
            timeout=10,
        )
    return str(subject.code)


async def transitions(app: ListsApp, entry_id: uuid.UUID) -> list[tuple[str, str, str]]:
    async with app.db.read() as conn:
        rows = await conn.execute(
            sa.select(
                t.entry_history.c.from_state, t.entry_history.c.to_state, t.entry_history.c.actor
            )
            .where(t.entry_history.c.entry_id == entry_id)
            .order_by(t.entry_history.c.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_publicity_then_validity_move_an_entry_on_exactly_once_with_two_replicas(
    lists_app: ListsApp, registry_process: ServiceProcess
) -> None:
    code = await register(registry_process)
    entry = await lists_app.entries.propose(
        commands.Propose(MARKET, code, "serious_illegal_dishonest", "严重违法", "决定书1号")
    )
    assert entry.state == State.PUBLICITY and entry.valid_until is not None
    assert await lists_app.clock.tick() == 0
    second = build(lists_app.settings)  # another replica on the same database
    try:
        after_publicity = entry.publicity_until + dt.timedelta(seconds=1)
        moved = await asyncio.gather(
            lists_app.clock.tick(after_publicity), second.clock.tick(after_publicity)
        )
        assert sum(moved) == 1
        history = await transitions(lists_app, entry.id)
        assert history.count(("publicity", "effective", "clock")) == 1
        after_validity = entry.valid_until + dt.timedelta(seconds=1)
        moved = await asyncio.gather(
            lists_app.clock.tick(after_validity), second.clock.tick(after_validity)
        )
        assert sum(moved) == 1
        assert (await transitions(lists_app, entry.id)).count(
            ("effective", "expired", "clock")
        ) == 1
    finally:
        await second.db.dispose()


async def test_a_read_shows_the_state_the_clock_implies_before_the_clock_runs(
    lists_app: ListsApp, registry_process: ServiceProcess
) -> None:
    code = await register(registry_process)
    entry = await lists_app.entries.propose(
        commands.Propose(MARKET, code, "serious_illegal_dishonest", "严重违法", "决定书2号")
    )
    async with lists_app.db.transaction() as conn:  # as if the publicity had ended a second ago
        await conn.execute(
            sa.update(t.entries)
            .where(t.entries.c.id == entry.id)
            .values(publicity_until=utcnow() - dt.timedelta(seconds=1))
        )
    assert (await lists_app.entries.get(entry.id)).state == State.EFFECTIVE
    status = await lists_app.entries.status(entry.subject_id, include_past=False)
    assert status.restricted


async def test_an_open_objection_holds_an_entry_in_publicity(
    lists_app: ListsApp, registry_process: ServiceProcess
) -> None:
    code = await register(registry_process)
    entry = await lists_app.entries.propose(
        commands.Propose(MARKET, code, "serious_illegal_dishonest", "严重违法", "决定书3号")
    )
    async with lists_app.db.transaction() as conn:
        await conn.execute(
            sa.update(t.entries).where(t.entries.c.id == entry.id).values(open_objections=1)
        )
    later = entry.publicity_until + dt.timedelta(days=1)
    assert await lists_app.clock.tick(later) == 0
    held = (await lists_app.entries.get(entry.id)).at(later)
    assert held.state == State.PUBLICITY


async def hear(
    app: ListsApp, kind: str, payload: Any, *, occurred_at: dt.datetime | None = None
) -> None:
    """The consumer handles one event, in its own transaction, as the stream would."""
    message = envelope_pb2.Envelope(event_id=str(uuid.uuid4()), type=kind)
    message.occurred_at.FromDatetime(occurred_at or utcnow())
    message.payload.Pack(payload)
    async with app.db.transaction() as conn:
        await app.consumers.handlers()[kind](conn, message)


def filed(objection_id: str, entry_id: uuid.UUID) -> objections_pb2.ObjectionFiled:
    target = objections_pb2.Target(kind="list_entry", id=str(entry_id))
    return objections_pb2.ObjectionFiled(objection_id=objection_id, target=target)


def closed(
    objection_id: str, entry_id: uuid.UUID, outcome: str = "dismissed", reason: str = "异议处理"
) -> objections_pb2.ObjectionClosed:
    target = objections_pb2.Target(kind="list_entry", id=str(entry_id))
    return objections_pb2.ObjectionClosed(
        objection_id=objection_id, target=target, outcome=outcome, reason=reason
    )


async def held_past_publicity(app: ListsApp, code: str, ref: str, days: int) -> uuid.UUID:
    """An entry an objection has held for `days` past the end of its publicity."""
    entry = await app.entries.propose(
        commands.Propose(MARKET, code, "serious_illegal_dishonest", "严重违法", ref)
    )
    await hear(app, "objection.filed", filed(f"o-{ref}", entry.id))
    async with app.db.transaction() as conn:
        await conn.execute(
            sa.update(t.entries)
            .where(t.entries.c.id == entry.id)
            .values(
                publicity_until=utcnow() - dt.timedelta(days=days),
                valid_until=entry.valid_until - dt.timedelta(days=10 + days),
            )
        )
    assert await app.clock.tick() == 0  # held
    return entry.id


async def entry_events(app: ListsApp, entry_id: uuid.UUID) -> list[str]:
    async with app.db.read() as conn:
        rows = await conn.execute(
            sa.select(t.outbox.c.event_type, t.outbox.c.envelope).order_by(t.outbox.c.seq)
        )
        return [
            kind
            for kind, envelope in rows
            if str(entry_id).encode() in bytes(envelope) and kind != "entry.marked"
        ]


async def test_an_entry_held_by_an_upheld_objection_is_withdrawn_from_publicity(
    lists_app: ListsApp, registry_process: ServiceProcess
) -> None:
    code = await register(registry_process)
    entry_id = await held_past_publicity(lists_app, code, "决定书7号", days=2)
    # Its reason as long as a decision's may be (2,000 characters), after what caused it.
    upheld = closed("o-决定书7号", entry_id, "upheld", "有误" * 1000)
    await hear(lists_app, "objection.closed", upheld)
    assert (await lists_app.entries.get(entry_id)).state == State.WITHDRAWN
    assert [(f, to) for f, to, _ in await transitions(lists_app, entry_id)] == [
        ("publicity", "publicity"),
        ("publicity", "withdrawn"),
    ]
    assert await entry_events(lists_app, entry_id) == ["entry.proposed", "entry.withdrawn"]


async def test_a_repair_approved_for_an_entry_held_in_publicity_withdraws_it_as_repaired(
    lists_app: ListsApp, registry_process: ServiceProcess
) -> None:
    """A repair filed while the entry was effective, approved after a late-heard objection
    (filed in its publicity) put it back there: the entry does not take effect later."""
    code = await register(registry_process)
    entry_id = await held_past_publicity(lists_app, code, "决定书10号", days=2)
    target = objections_pb2.Target(kind="list_entry", id=str(entry_id))
    approved = objections_pb2.RepairDecided(
        repair_id="r-10", target=target, approved=True, reason="已履行"
    )
    await hear(lists_app, "repair.decided", approved)
    entry = await lists_app.entries.get(entry_id)
    assert entry.state == State.WITHDRAWN
    async with lists_app.db.read() as conn:
        reason = await conn.scalar(
            sa.select(t.entry_history.c.reason)
            .where(t.entry_history.c.entry_id == entry_id)
            .order_by(t.entry_history.c.id.desc())
            .limit(1)
        )
    assert reason == "repaired (repair r-10): 已履行"
    assert await entry_events(lists_app, entry_id) == ["entry.proposed", "entry.withdrawn"]
    await hear(lists_app, "objection.closed", closed("o-决定书10号", entry_id))
    assert (await lists_app.entries.get(entry_id)).state == State.WITHDRAWN


async def test_an_entry_held_past_its_publicity_takes_effect_when_the_objection_is_dismissed(
    lists_app: ListsApp, registry_process: ServiceProcess
) -> None:
    code = await register(registry_process)
    entry_id = await held_past_publicity(lists_app, code, "决定书8号", days=30)
    before = await lists_app.entries.get(entry_id)
    dismissed = utcnow()
    await hear(lists_app, "objection.closed", closed("o-决定书8号", entry_id))
    after = await lists_app.entries.get(entry_id)
    assert after.state == State.EFFECTIVE and after.effective_from is not None
    assert after.effective_from >= dismissed  # not back at the end of its publicity
    assert before.valid_until is not None and after.valid_until is not None
    held = after.effective_from - before.publicity_until
    shift = after.valid_until - before.valid_until  # the listing lasts its full term
    assert shift % dt.timedelta(days=1) == dt.timedelta(0) and abs(shift - held) < dt.timedelta(1)
    assert await entry_events(lists_app, entry_id) == ["entry.proposed", "entry.effective"]
    assert await lists_app.clock.tick() == 0


async def test_an_objection_filed_after_publicity_does_not_prolong_another_ones_hold(
    lists_app: ListsApp, registry_process: ServiceProcess
) -> None:
    """One objection, filed in publicity, holds the entry; another filed after its
    publicity ended holds nothing: the entry takes effect when the first is decided, under
    the second (shown), and objections filed one after another cannot keep it from ever
    taking effect."""
    code = await register(registry_process)
    entry_id = await held_past_publicity(lists_app, code, "决定书9号", days=3)
    await hear(lists_app, "objection.filed", filed("o-late", entry_id))
    assert (await lists_app.entries.get(entry_id)).state == State.PUBLICITY  # still held
    await hear(lists_app, "objection.closed", closed("o-决定书9号", entry_id))
    after = await lists_app.entries.get(entry_id)
    assert after.state == State.EFFECTIVE and after.open_objections == 1


async def test_an_entry_held_past_its_publicity_counts_its_term_in_whole_days(
    lists_app: ListsApp, registry_process: ServiceProcess
) -> None:
    """Publicity ended at midnight three days ago; the objection is dismissed in the day:
    the entry takes effect now, its term and the day repair may be asked for count from
    tomorrow, as they counted from the publicity's last midnight, so each is put off four
    whole days and still ends at midnight in China (not at the hour of the dismissal)."""
    code = await register(registry_process)
    entry_id = await held_past_publicity(lists_app, code, "决定书10号", days=3)
    today = china_date(utcnow())
    midnight = china_day_start(today - dt.timedelta(days=3))
    async with lists_app.db.transaction() as conn:
        await conn.execute(
            sa.update(t.entries).where(t.entries.c.id == entry_id).values(publicity_until=midnight)
        )
    before = await lists_app.entries.get(entry_id)
    assert before.valid_until is not None and before.repair_possible_from is not None
    await hear(lists_app, "objection.closed", closed("o-决定书10号", entry_id))
    after = await lists_app.entries.get(entry_id)
    if china_date(utcnow()) != today:
        pytest.skip("the day in China changed during the test")
    four = dt.timedelta(days=4) if utcnow() != china_day_start(today) else dt.timedelta(days=3)
    assert after.valid_until == before.valid_until + four
    assert after.repair_possible_from == before.repair_possible_from + four
    assert after.valid_until == china_day_start(china_date(after.valid_until))


async def test_a_subjects_current_status_leaves_out_an_entry_expired_before_the_clock_ran(
    lists_app: ListsApp, registry_process: ServiceProcess
) -> None:
    code = await register(registry_process)
    entry = await lists_app.entries.propose(
        commands.Propose(COURT, code, "court_dishonest_debtor", "拒不履行", "执9号")
    )
    async with lists_app.db.transaction() as conn:
        await conn.execute(
            sa.update(t.entries)
            .where(t.entries.c.id == entry.id)
            .values(valid_until=utcnow() - dt.timedelta(seconds=1))
        )
    current = await lists_app.entries.status(entry.subject_id, include_past=False)
    assert current.entries == [] and not current.restricted
    past = await lists_app.entries.status(entry.subject_id, include_past=True)
    assert [e.state for e in past.entries] == [State.EXPIRED]


async def test_an_objection_closed_before_its_filing_arrives_does_not_hold_the_entry(
    lists_app: ListsApp, registry_process: ServiceProcess
) -> None:
    """The stream consumer moves past an event that failed and takes it again later: an
    objection's closing could come before its filing, which then held the entry in publicity
    for good (no closing would come again to uncount it)."""
    code = await register(registry_process)
    entry = await lists_app.entries.propose(
        commands.Propose(MARKET, code, "serious_illegal_dishonest", "严重违法", "决定书4号")
    )
    await hear(lists_app, "objection.filed", filed("o-1", entry.id))
    assert (await lists_app.entries.get(entry.id)).open_objections == 1
    await hear(lists_app, "objection.closed", closed("o-1", entry.id))
    assert (await lists_app.entries.get(entry.id)).open_objections == 0
    await hear(lists_app, "objection.closed", closed("o-9", entry.id))
    await hear(lists_app, "objection.filed", filed("o-9", entry.id))
    assert (await lists_app.entries.get(entry.id)).open_objections == 0
    later = entry.publicity_until + dt.timedelta(seconds=1)
    assert await lists_app.clock.tick(later) == 1
    assert (await lists_app.entries.get(entry.id)).at(later).state == State.EFFECTIVE


async def publicity_ended(app: ListsApp, code: str, ref: str) -> Entry:
    """A new entry whose publicity ended an hour ago (the clock has not run since)."""
    entry = await app.entries.propose(
        commands.Propose(MARKET, code, "serious_illegal_dishonest", "严重违法", ref)
    )
    ended = utcnow() - dt.timedelta(hours=1)
    async with app.db.transaction() as conn:
        await conn.execute(
            sa.update(t.entries).where(t.entries.c.id == entry.id).values(publicity_until=ended)
        )
    return replace(entry, publicity_until=ended)


async def test_an_objection_filed_in_publicity_but_heard_after_the_clock_ran_holds_the_entry(
    lists_app: ListsApp, registry_process: ServiceProcess
) -> None:
    """The filing's event comes late (the stream lagged): the clock has meanwhile moved the
    entry on. The objection was filed while the entry was in publicity, so it goes back
    there, says why, and takes effect only when the objection is decided."""
    entry = await publicity_ended(lists_app, await register(registry_process), "决定书21号")
    ended = entry.publicity_until
    assert await lists_app.clock.tick() == 1
    filed_at = ended - dt.timedelta(minutes=5)
    await hear(lists_app, "objection.filed", filed("o-21", entry.id), occurred_at=filed_at)
    held = await lists_app.entries.get(entry.id)
    assert held.state == State.PUBLICITY and held.effective_from is None
    assert held.open_objections == 1
    assert held.at(utcnow() + dt.timedelta(days=400)).state == State.PUBLICITY
    assert [(f, to, who) for f, to, who in await transitions(lists_app, entry.id)] == [
        ("publicity", "publicity", entry.proposed_by),
        ("publicity", "effective", "clock"),
        ("effective", "publicity", "lists"),
    ]
    assert await entry_events(lists_app, entry.id) == [
        "entry.proposed",
        "entry.effective",
        "entry.held",
    ]
    assert await lists_app.clock.tick(utcnow() + dt.timedelta(days=1)) == 0
    dismissed = utcnow()
    await hear(lists_app, "objection.closed", closed("o-21", entry.id))
    after = await lists_app.entries.get(entry.id)
    assert after.state == State.EFFECTIVE and after.effective_from is not None
    assert after.effective_from >= dismissed
    assert held.valid_until is not None
    assert after.valid_until >= held.valid_until  # put off by the whole days it was held


async def test_an_objection_filed_after_publicity_ended_does_not_hold_the_entry(
    lists_app: ListsApp, registry_process: ServiceProcess
) -> None:
    """Filed once the publicity was over, heard before the clock moved the entry on: the
    entry took effect at the end of its publicity, and the objection (counted, so the entry
    shows it is under objection) does not put it back."""
    entry = await publicity_ended(lists_app, await register(registry_process), "决定书22号")
    ended = entry.publicity_until
    await hear(lists_app, "objection.filed", filed("o-22", entry.id))
    stored = await lists_app.entries.get(entry.id)
    assert stored.state == State.EFFECTIVE and stored.effective_from == ended
    assert stored.open_objections == 1
    assert await lists_app.clock.tick() == 0
    assert await entry_events(lists_app, entry.id) == ["entry.proposed", "entry.effective"]
    await hear(lists_app, "objection.closed", closed("o-22", entry.id))
    assert (await lists_app.entries.get(entry.id)).effective_from == ended


async def test_pages_of_entries_in_a_state_the_clock_implies_name_each_entry_once(
    lists_app: ListsApp, registry_process: ServiceProcess
) -> None:
    """Entries asked for as effective are read among those stored in publicity too (the
    clock may have moved them on): one left out must not make the next page begin among
    the rows the page before already showed."""
    code = await register(registry_process)
    court = [
        await lists_app.entries.propose(
            commands.Propose(COURT, code, "court_dishonest_debtor", "拒不履行", f"执{n}号")
        )
        for n in (31, 32)
    ]
    await lists_app.entries.propose(
        commands.Propose(MARKET, code, "serious_illegal_dishonest", "严重违法", "决定书31号")
    )
    shown: list[uuid.UUID] = []
    offset: int | None = 0
    while offset is not None:
        page, offset = await lists_app.entries.search(
            commands.Search(
                state="effective", subject_id=court[0].subject_id, page_size=1, offset=offset
            )
        )
        shown += [e.id for e in page]
    assert shown == [court[1].id, court[0].id]


async def test_measure_feedback_may_not_be_dated_after_today_in_china(
    lists_app: ListsApp, registry_process: ServiceProcess
) -> None:
    """Today is China's day (UTC's is a day behind from 00:00 to 08:00 China time, and the
    same the rest of the day): a measure applied today counts, one dated tomorrow is
    refused whatever the hour."""
    code = await register(registry_process)
    entry = await lists_app.entries.propose(
        commands.Propose(COURT, code, "court_dishonest_debtor", "拒不履行", "执41号")
    )
    finance = commands.Caller("cl_finance", "finance")
    today = china_date(utcnow())

    def applied(day: dt.date) -> commands.Feedback:
        return commands.Feedback(
            finance, entry.id, "procurement_exclusion", day.isoformat(), "取消投标资格", ""
        )

    assert await lists_app.feedback.record(applied(today))
    with pytest.raises(InvalidArgument) as refused:
        await lists_app.feedback.record(applied(today + dt.timedelta(days=1)))
    assert [v.field for v in refused.value.violations] == ["applied_on"]


async def test_an_objection_counted_before_objections_were_kept_is_uncounted_when_closed(
    lists_app: ListsApp, registry_process: ServiceProcess
) -> None:
    """An entry counted one objection before each was kept: the closing of an objection
    not heard of uncounts it while the count holds more than the objections kept open, and
    the late filing of the one closed first counts nothing."""
    code = await register(registry_process)
    entry = await lists_app.entries.propose(
        commands.Propose(MARKET, code, "serious_illegal_dishonest", "严重违法", "决定书5号")
    )
    async with lists_app.db.transaction() as conn:  # as the count stood before revision 0002
        await conn.execute(
            sa.update(t.entries).where(t.entries.c.id == entry.id).values(open_objections=1)
        )
    await hear(lists_app, "objection.filed", filed("o-new", entry.id))
    await hear(lists_app, "objection.closed", closed("o-old", entry.id))
    assert (await lists_app.entries.get(entry.id)).open_objections == 1  # o-new holds it
    await hear(lists_app, "objection.closed", closed("o-early", entry.id))  # filing late
    assert (await lists_app.entries.get(entry.id)).open_objections == 1
    await hear(lists_app, "objection.filed", filed("o-early", entry.id))
    await hear(lists_app, "objection.closed", closed("o-new", entry.id))
    assert (await lists_app.entries.get(entry.id)).open_objections == 0


async def test_many_due_entries_move_on_once_with_batches_side_by_side_in_two_replicas(
    lists_app: ListsApp, registry_process: ServiceProcess
) -> None:
    """Small batches, two workers in each of two replicas (PostgreSQL; one on SQLite): every
    entry is moved once, with one history row and one event each."""
    code = await register(registry_process)
    entries = [
        await lists_app.entries.propose(
            commands.Propose(MARKET, code, "serious_illegal_dishonest", "严重违法", f"决定书{i}号")
        )
        for i in range(23)
    ]
    later = max(e.publicity_until for e in entries) + dt.timedelta(seconds=1)
    second = build(lists_app.settings)
    try:
        for clock in (lists_app.clock, second.clock):
            clock.batch = 4
        moved = await asyncio.gather(lists_app.clock.tick(later), second.clock.tick(later))
        assert sum(moved) == len(entries)
        for entry in entries:
            history = await transitions(lists_app, entry.id)
            assert history[1:] == [("publicity", "effective", "clock")]  # after the proposal
        async with lists_app.db.read() as conn:
            events = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(t.outbox)
                .where(t.outbox.c.event_type == "entry.effective")
            )
        assert events == len(entries)
    finally:
        await second.db.dispose()


async def test_a_status_names_each_entry_once_with_all_its_basis_records(
    lists_app: ListsApp, registry_process: ServiceProcess
) -> None:
    """A status is read in one statement joining entries to their basis records: an entry
    with two bases comes once with both, one with none comes with none, a withdrawn entry only
    among past ones."""
    code = await register(registry_process)
    propose = lists_app.entries.propose
    two = await propose(
        commands.Propose(MARKET, code, "serious_illegal_dishonest", "严重违法", "决定书甲")
    )
    none = await propose(
        commands.Propose(MARKET, code, "serious_illegal_dishonest", "严重违法", "决定书乙")
    )
    gone = await propose(
        commands.Propose(MARKET, code, "serious_illegal_dishonest", "严重违法", "决定书丙")
    )
    bases = sorted(str(uuid.uuid4()) for _ in range(2))
    async with lists_app.db.transaction() as conn:  # as a listing rule with two records would
        await conn.execute(
            sa.insert(t.entry_basis), [{"entry_id": two.id, "record_id": r} for r in bases]
        )
        await conn.execute(
            sa.insert(t.entry_basis), [{"entry_id": gone.id, "record_id": str(uuid.uuid4())}]
        )
    await lists_app.entries.remove(commands.Remove(MARKET, gone.id, "撤销", withdraw=True))

    current = await lists_app.entries.status(two.subject_id, include_past=False)
    assert [(e.id, e.basis_record_ids) for e in current.entries] == [(two.id, bases), (none.id, [])]
    past = await lists_app.entries.status(two.subject_id, include_past=True)
    assert [e.id for e in past.entries] == [two.id, none.id, gone.id]
    assert [len(e.basis_record_ids) for e in past.entries] == [2, 0, 1]
    assert past.entries[2].state == State.WITHDRAWN


async def test_a_check_read_in_parts_answers_as_one_read_in_one_part(
    lists_app: ListsApp, registry_process: ServiceProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check resolves its codes and reads their entries a part at a time, side by side:
    with parts of two codes, one subject named by its unified code and by its legacy code in
    different parts (its entries read once), unknown and empty codes, the answer is the one
    a single part gives, code by code."""
    legacy = "310115000000037"
    listed = await register(registry_process, legacy=legacy)
    other, unlisted = [await register(registry_process) for _ in range(2)]
    for code, ref in ((listed, "决定书丁"), (listed, "决定书戊"), (other, "决定书己")):
        entry = await lists_app.entries.propose(
            commands.Propose(MARKET, code, "serious_illegal_dishonest", "严重违法", ref)
        )
        async with lists_app.db.transaction() as conn:  # its publicity over: effective
            await conn.execute(
                sa.update(t.entries)
                .where(t.entries.c.id == entry.id)
                .values(publicity_until=utcnow() - dt.timedelta(seconds=1))
            )
    # Parts of two distinct codes: [listed, unlisted], [unknown, other], [legacy, ...].
    codes = [listed, unlisted, "91310000MA1FL0000X", other, legacy, listed.lower(), ""]

    def answers(check: entries_module.Check) -> list[tuple[object, ...]]:
        return [
            (r.code, r.found, r.error, r.restricted, sorted(e.decision_ref for e in r.triggering))
            for r in check.results
        ]

    monkeypatch.setattr(entries_module, "CHECK_PART", 10_000)
    whole = answers(await lists_app.entries.check(codes, []))
    lists_app.directory._cache.clear()
    monkeypatch.setattr(entries_module, "CHECK_PART", 2)
    in_parts = answers(await lists_app.entries.check(codes, []))
    assert in_parts == whole
    assert [(r[1], r[3]) for r in whole] == [
        (True, True), (True, False), (False, False), (True, True), (True, True),
        (True, True), (False, False),
    ]  # fmt: skip
    twice = ["决定书丁", "决定书戊"]
    assert whole[0][4] == whole[4][4] == whole[5][4] == twice and whole[3][4] == ["决定书己"]


async def test_a_check_with_the_registry_away_fails_as_one_call_would(
    lists_app: ListsApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parts resolving side by side, the registry away: the check raises the directory's
    BackendUnavailable (answered UNAVAILABLE), not a group of them."""
    monkeypatch.setattr(entries_module, "CHECK_PART", 2)
    away = SubjectDirectory(f"127.0.0.1:{free_port()}", 0.3)
    monkeypatch.setattr(lists_app.entries, "directory", away)
    try:
        with pytest.raises(BackendUnavailable):
            await lists_app.entries.check([f"91310000MA1FL{i:04d}X" for i in range(7)], [])
    finally:
        await away.close()


def court_record(
    ref: str, decided: dt.date | None = None, subject_id: uuid.UUID | None = None
) -> records_pb2.RecordSummary:
    """A new court_dishonest record as the records service tells of it (decided 3 days ago
    unless said otherwise)."""
    return records_pb2.RecordSummary(
        record_id=str(uuid.uuid4()),
        subject_id=str(subject_id or uuid.uuid4()),
        subject_key="91310115MA1K3YJ58Y",
        item_code="court_dishonest",
        department="court",
        source_ref=ref,
        decided_on=(decided or utcnow().date() - dt.timedelta(days=3)).isoformat(),
    )


@pytest.mark.parametrize("decided", [dt.date(2024, 6, 1), dt.date(2026, 11, 20)])
async def test_a_court_record_lists_its_subject_from_the_courts_decision(
    lists_app: ListsApp, decided: dt.date
) -> None:
    """However late the record arrives: a decision of June 2024 is a listing over by June
    2026, not a new two years from the day the record was loaded."""
    subject_id = uuid.uuid4()
    summary = court_record("(2024)沪0115执1号", decided, subject_id)
    record_id = summary.record_id
    await hear(lists_app, "record.created", records_pb2.RecordsCreated(records=[summary]))
    past = await lists_app.entries.status(subject_id, include_past=True)
    [entry] = past.entries
    assert entry.effective_from == china_day_start(decided)
    # In force from the decision's day; two years counted from the next day, to the end
    # of the same date two years on (Civil Code arts. 201-202).
    two_years_on = decided.replace(year=decided.year + 2)
    assert entry.valid_until == china_day_start(two_years_on + dt.timedelta(days=1))
    assert entry.basis_record_ids == [record_id] and entry.proposed_by == "listing-rule"
    lapsed = entry.valid_until <= utcnow()
    assert entry.state == (State.EXPIRED if lapsed else State.EFFECTIVE)
    current = await lists_app.entries.status(subject_id, include_past=False)
    assert current.restricted is not lapsed
    assert await entry_events(lists_app, entry.id) == ["entry.proposed", "entry.effective"]


async def test_the_clock_names_an_expired_entrys_basis_records_and_end(
    lists_app: ListsApp,
) -> None:
    """The records service stops showing a "while listed" record when its entry expires: an
    entry listed before proposals named their basis records learns it from the expiry."""
    summary = court_record("(2026)沪0115执2号")
    record_id = summary.record_id
    await hear(lists_app, "record.created", records_pb2.RecordsCreated(records=[summary]))
    async with lists_app.db.read() as conn:
        valid_until = (await conn.execute(sa.select(t.entries.c.valid_until))).scalar_one()
    assert await lists_app.clock.tick(valid_until + dt.timedelta(seconds=1)) == 1
    async with lists_app.db.read() as conn:
        stored = (
            await conn.execute(
                sa.select(t.outbox.c.envelope).where(t.outbox.c.event_type == "entry.expired")
            )
        ).scalar_one()
    envelope = envelope_pb2.Envelope.FromString(bytes(stored))
    expired = lists_pb2.EntryChanged()
    envelope.payload.Unpack(expired)
    assert list(expired.basis_record_ids) == [record_id]
    assert expired.valid_until.ToDatetime(tzinfo=dt.UTC) == valid_until


async def test_tell_listings_sends_each_entry_with_basis_records_as_it_stands(
    lists_app: ListsApp,
) -> None:
    kept, performed = court_record("执3号"), court_record("执4号")
    await hear(lists_app, "record.created", records_pb2.RecordsCreated(records=[kept, performed]))
    async with lists_app.db.read() as conn:
        ids = dict((await conn.execute(sa.select(t.entries.c.decision_ref, t.entries.c.id))).all())
    removed = await lists_app.entries.remove(commands.Remove(COURT, ids["执4号"], "已履行完毕"))
    assert await retell.tell_listings(lists_app.db, lists_app.entries.outbox, batch=1) == 2
    async with lists_app.db.read() as conn:
        stored = (
            await conn.execute(
                sa.select(t.outbox.c.envelope).where(t.outbox.c.event_type == "entry.told")
            )
        ).scalars()
        told = {}
        for raw in stored:
            payload = lists_pb2.EntryChanged()
            envelope_pb2.Envelope.FromString(bytes(raw)).payload.Unpack(payload)
            told[payload.entry_id] = payload
    current, ended = told[str(ids["执3号"])], told[str(ids["执4号"])]
    assert current.to_state == "effective" and not current.HasField("ended_at")
    assert list(current.basis_record_ids) == [kept.record_id] and current.HasField("valid_until")
    assert ended.to_state == "removed" and list(ended.basis_record_ids) == [performed.record_id]
    assert ended.ended_at.ToDatetime(tzinfo=dt.UTC) == removed.history[-1].at
    assert ended.reason == "已履行完毕"  # why it ended, not why it was listed


async def test_a_clock_batch_holds_no_more_entries_than_its_size(
    lists_app: ListsApp, registry_process: ServiceProcess
) -> None:
    """Each batch is a transaction of its own of at most `batch` entries (on PostgreSQL an
    UPDATE … WHERE id IN (the locking LIMIT) was run as a join that took every due entry
    in one batch); the batches together apply them all."""
    from credit_lists.service_layer.clock import Clock

    entries = [
        await lists_app.entries.propose(
            commands.Propose(
                MARKET,
                await register(registry_process),
                "serious_illegal_dishonest",
                "严重违法",
                f"决定书批{n}号",
            )
        )
        for n in range(5)
    ]
    later = max(e.publicity_until for e in entries) + dt.timedelta(seconds=1)
    clock = Clock(lists_app.db, lists_app.clock.outbox, batch=2, workers=1)
    due = t.entries.c.publicity_until
    async with lists_app.db.transaction() as conn:
        first = await clock._step(
            conn, State.PUBLICITY, State.EFFECTIVE, due, {"effective_from": due}, later
        )
    assert first == 2
    assert await clock.tick(later) == 3
    for entry in entries:
        assert (await lists_app.entries.get(entry.id)).state == State.EFFECTIVE
