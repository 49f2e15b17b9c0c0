"""The records use cases against a real database and a real registry process."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import math
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf import json_format, struct_pb2

from credit.events.v1 import envelope_pb2, lists_pb2, objections_pb2, subject_pb2
from credit.events.v1 import records_pb2 as events_pb2
from credit.records.v1 import records_pb2, records_pb2_grpc
from credit.registry.v1 import registry_pb2 as rpb
from credit.registry.v1 import registry_pb2_grpc as rpb_grpc
from credit_common.db import sync_url
from credit_common.errors import (
    Conflict,
    InvalidArgument,
    InvalidTransition,
    NotFound,
    PermissionDenied,
)
from credit_common.grpc_errors import from_rpc_error
from credit_common.messages import timestamp
from credit_common.redis_client import make_redis
from credit_common.relay import stream_name
from credit_common.timeutil import china_date, china_day_start, utcnow
from credit_records.adapters import tables
from credit_records.adapters.repository import RecordRepository
from credit_records.bootstrap import RecordsApp
from credit_records.domain.catalog import Level
from credit_records.domain.publicity import Window, add_months
from credit_records.domain.records import StoredRecord, Version
from credit_records.service_layer import commands
from support.processes import ServiceProcess, free_port, start_service
from support.records_parts import COURT, DISHONEST, MARKET, penalty

TAX = commands.Caller("cl_tax", "tax")


async def register(registry: ServiceProcess, name: str = "记录测试有限公司") -> str:
    async with grpc.aio.insecure_channel(registry.address) as channel:
        subject = await rpb_grpc.RegistryServiceStub(channel).RegisterSubject(
            rpb.RegisterSubjectRequest(
                kind=rpb.SUBJECT_KIND_ORGANIZATION,
                name=name,
                registration_authority="9",
                org_category="1",
                division_code="310115",
            ),
            timeout=10,
        )
    return str(subject.code)


def submit(
    code: str,
    ref: str = "某监罚〔2026〕1号",
    decided: dt.date | None = None,
    caller: commands.Caller = MARKET,
    item: str = "admin_penalty",
    **fields: Any,
) -> commands.Submit:
    decided = decided or utcnow().date() - dt.timedelta(days=1)
    body = penalty(**fields) if item == "admin_penalty" else fields
    return commands.Submit(caller, code, item, ref, decided.isoformat(), body)


async def uphold(
    records_app: RecordsApp,
    record_id: uuid.UUID,
    corrected: dict[str, Any],
    reason: str = "更正",
    objection_id: str = "",
    decided_at: dt.datetime | None = None,
) -> None:
    """Applies an upheld objection's closing that corrects the record's fields."""
    closed = objections_pb2.ObjectionClosed(
        objection_id=objection_id or f"obj-{uuid.uuid4()}",
        target=objections_pb2.Target(kind="record", id=str(record_id)),
        outcome="upheld",
        reason=reason,
        decided_by="credit-centre",
    )
    closed.corrected_fields.update(corrected)
    message = envelope_pb2.Envelope(event_id=str(uuid.uuid4()), type="objection.closed")
    message.occurred_at.FromDatetime(decided_at or utcnow())
    message.payload.Pack(closed)
    async with records_app.db.transaction() as conn:
        await records_app.consumers.handlers()["objection.closed"](conn, message)


async def test_the_shipped_catalog_holds_the_domain_items(records_app: RecordsApp) -> None:
    codes = {i.item_code for i in records_app.catalog.list()}
    assert codes >= {
        "admin_license",
        "admin_penalty",
        "court_dishonest",
        "tax_credit_grade",
        "contract_honoring",
        "credit_commitment",
        "social_insurance_arrears",
    }


async def test_a_general_penalty_is_public_for_a_year_and_repairable_after_three_months(
    records_app: RecordsApp, registry_process: ServiceProcess
) -> None:
    code = await register(registry_process)
    decided = utcnow().date() - dt.timedelta(days=1)
    submitted = await records_app.records.submit(submit(code, decided=decided))
    record = submitted.view.record
    assert submitted.created and submitted.view.status == "active"
    assert record.window.publicity_until is not None
    assert (record.window.publicity_until - decided).days in range(365, 367)
    assert record.window.repairable
    assert record.window.repair_possible_from == add_months(decided, 3) + dt.timedelta(days=1)
    assert not record.late


async def test_penalty_kinds_that_forbid_repair_make_the_record_unrepairable_until_the_maximum(
    records_app: RecordsApp, registry_process: ServiceProcess
) -> None:
    code = await register(registry_process)
    seen = (
        await records_app.records.submit(
            submit(code, severity="serious", penalty_kinds=["fine", "suspension"])
        )
    ).view
    assert not seen.record.window.repairable
    until = seen.record.window.publicity_until
    assert until is not None
    assert seen.record.window.repair_possible_from == until + dt.timedelta(days=1)


async def test_a_late_submission_is_marked_late(
    records_app: RecordsApp, registry_process: ServiceProcess
) -> None:
    code = await register(registry_process)
    seen = (await records_app.records.submit(submit(code, decided=dt.date(2025, 9, 10)))).view
    assert seen.record.late


async def test_resubmitting_is_a_no_op_and_other_content_is_a_conflict(
    records_app: RecordsApp, registry_process: ServiceProcess
) -> None:
    code = await register(registry_process)
    first = await records_app.records.submit(submit(code))
    again = await records_app.records.submit(submit(code))
    assert not again.created and again.view.record.id == first.view.record.id
    with pytest.raises(Conflict) as error:
        await records_app.records.submit(submit(code, penalty_content="罚款一万元"))
    assert error.value.reason == "duplicate_source_ref"


async def test_bad_records_are_refused_with_each_problem_named(
    records_app: RecordsApp, registry_process: ServiceProcess
) -> None:
    code = await register(registry_process)
    with pytest.raises(InvalidArgument) as error:
        await records_app.records.submit(submit("91310115MA8BRK2A83"))
    assert error.value.reason == "unknown_subject"
    with pytest.raises(InvalidArgument) as error:
        await records_app.records.submit(submit(code, item="no_such_item"))
    assert error.value.violations[0].field == "item_code"
    with pytest.raises(PermissionDenied) as denied:
        await records_app.records.submit(submit(code, item="court_dishonest", case_number="x"))
    assert denied.value.reason == "department_mismatch"
    bad = submit(
        code, decided=utcnow().date() + dt.timedelta(days=3), severity="huge", fine_amount=-1
    )
    bad.fields.pop("legal_basis")
    with pytest.raises(InvalidArgument) as error:
        await records_app.records.submit(bad)
    fields = {v.field for v in error.value.violations}
    assert {"decided_on", "fields.legal_basis", "fields.severity", "fields.fine_amount"} <= fields
    with pytest.raises(InvalidArgument) as error:  # PostgreSQL can store no NUL
        await records_app.records.submit(submit(code, ref="罚\x001", violation_facts="超\x00"))
    assert {v.field for v in error.value.violations} == {"source_ref", "fields.violation_facts"}
    record_id = (await records_app.records.submit(submit(code))).view.record.id
    with pytest.raises(InvalidArgument) as error:
        await records_app.records.correct(
            commands.Correct(MARKET, record_id, penalty(penalty_content="警\x00告"), "更正")
        )
    assert [v.field for v in error.value.violations] == ["fields.penalty_content"]
    assert (await records_app.records.get(record_id, Level.RESTRICTED)).record.current_version == 1
    with pytest.raises(InvalidArgument) as error:  # jsonb refuses NaN and the infinities
        await records_app.records.submit(
            submit(code, ref="罚2", fine_amount=float("nan"), penalty_kinds=[float("inf")])
        )
    assert {v.field for v in error.value.violations} >= {
        "fields.fine_amount",
        "fields.penalty_kinds.0",
    }
    with pytest.raises(InvalidArgument) as error:
        await records_app.records.correct(
            commands.Correct(MARKET, record_id, penalty(fine_amount=float("inf")), "更正")
        )
    assert "fields.fine_amount" in {v.field for v in error.value.violations}
    assert (await records_app.records.get(record_id, Level.RESTRICTED)).record.current_version == 1


async def test_a_stated_publicity_deadline_ends_publicity_within_the_laws_window(
    records_app: RecordsApp, registry_process: ServiceProcess
) -> None:
    code = await register(registry_process)
    decided = dt.date(2026, 8, 31)
    soon = add_months(decided, 3).isoformat()  # 2026-11-30: the minimum's last day
    stated = await records_app.records.submit(
        submit(code, "罚期1", decided=decided, publicity_deadline=soon)
    )
    assert stated.view.record.window.publicity_until == dt.date(2026, 11, 30)
    with pytest.raises(InvalidArgument) as error:
        await records_app.records.submit(
            submit(code, "罚期2", decided=decided, publicity_deadline="2026-11-29")
        )
    assert [(v.field, v.message) for v in error.value.violations] == [
        (
            "fields.publicity_deadline",
            "2026-11-29 is outside the publicity of a general penalty decided on 2026-08-31: "
            "from 2026-11-30 to 2027-08-31",
        )
    ]
    record_id = stated.view.record.id
    with pytest.raises(InvalidArgument):
        await records_app.records.correct(
            commands.Correct(MARKET, record_id, penalty(publicity_deadline="2027-09-01"), "更正")
        )
    # An upheld objection's correction (verified by the objections service against the
    # schema only) is not refused: its deadline is held to the window.
    # Its reason as long as a decision's may be (2,000 characters), after what caused it.
    await uphold(records_app, record_id, {"publicity_deadline": "2027-09-01"}, "期限" * 1000)
    after = (await records_app.records.get(record_id, Level.RESTRICTED)).record
    assert after.current_version == 2
    assert after.window.publicity_until == dt.date(2027, 8, 31)


async def test_a_catalog_item_with_an_endless_window_or_nan_in_its_schema_is_refused(
    records_app: RecordsApp,
) -> None:
    """Either made every later record of the item fail: the window's date arithmetic
    overflowed, jsonb refuses NaN; now the item is refused and nothing is stored."""
    shipped = await records_app.catalog.get("tax_credit_grade")
    endless = dataclasses.replace(
        shipped,
        item_code="endless_grade",
        publicity=dataclasses.replace(shipped.publicity, months=0, days=2_147_483_647),
    )
    schema = {"type": "object", "properties": {"score": {"type": "number", "maximum": math.nan}}}
    unbounded = dataclasses.replace(
        shipped, item_code="nan_grade", fields_schema=schema, nature_field="", nature_values={}
    )
    for item, field in [
        (endless, "publicity_days"),
        (unbounded, "fields.properties.score.maximum"),
    ]:
        with pytest.raises(InvalidArgument) as error:
            await records_app.catalog.put(item, "admin")
        assert [v.field for v in error.value.violations] == [field]
        with pytest.raises(NotFound):
            await records_app.catalog.get(item.item_code)


async def test_corrections_add_versions_and_withdrawal_changes_status_only(
    records_app: RecordsApp, registry_process: ServiceProcess
) -> None:
    code = await register(registry_process)
    record_id = (await records_app.records.submit(submit(code))).view.record.id
    corrected = await records_app.records.correct(
        commands.Correct(MARKET, record_id, penalty(penalty_content="警告（更正）"), "文字错误")
    )
    assert corrected.status == "corrected" and corrected.version.version == 2
    assert [v.version for v in corrected.record.versions] == [1, 2]
    assert corrected.record.versions[0].fields["penalty_content"] == "警告"
    with pytest.raises(PermissionDenied):
        await records_app.records.withdraw(commands.Withdraw(TAX, record_id, "not mine"))
    withdrawn = await records_app.records.withdraw(
        commands.Withdraw(MARKET, record_id, "撤销处罚决定")
    )
    assert withdrawn.status == "withdrawn" and len(withdrawn.record.versions) == 2
    with pytest.raises(InvalidTransition):
        await records_app.records.correct(commands.Correct(MARKET, record_id, penalty(), "again"))
    with pytest.raises(InvalidTransition):
        await records_app.records.withdraw(commands.Withdraw(MARKET, record_id, "again"))


async def test_as_of_shows_what_each_level_saw_then(
    records_app: RecordsApp, registry_process: ServiceProcess
) -> None:
    code = await register(registry_process)
    before_submission = utcnow()
    submitted = await records_app.records.submit(submit(code))
    subject_id = submitted.view.record.subject_id
    after_submission = utcnow()
    await records_app.records.correct(
        commands.Correct(
            MARKET, submitted.view.record.id, penalty(penalty_content="更正后"), "更正"
        )
    )
    after_correction = utcnow()
    await records_app.records.withdraw(commands.Withdraw(MARKET, submitted.view.record.id, "撤回"))

    async def seen(level: Level, at: dt.datetime | None) -> list[str]:
        views, _ = await records_app.records.for_subject(
            commands.ListForSubject(subject_id, level, as_of=at)
        )
        return [f"{v.status}:{v.version.fields['penalty_content']}" for v in views]

    assert await seen(Level.PUBLIC, before_submission) == []
    assert await seen(Level.PUBLIC, after_submission) == ["active:警告"]
    assert await seen(Level.PUBLIC, after_correction) == ["corrected:更正后"]
    assert await seen(Level.PUBLIC, None) == []
    assert await seen(Level.SHARED, None) == []
    assert await seen(Level.RESTRICTED, None) == ["withdrawn:更正后"]


async def test_an_upheld_correction_heard_after_a_departments_is_not_dated_before_it(
    records_app: RecordsApp, registry_process: ServiceProcess
) -> None:
    """An upheld objection's version was dated at the decision: heard after a correction
    the department made since, it was laid over that correction yet dated before it, so
    the department's version was in no as-of answer and its fields showed as of moments
    before they were written."""
    code = await register(registry_process)
    record_id = (await records_app.records.submit(submit(code))).view.record.id
    decided = utcnow()
    await asyncio.sleep(0.01)
    await records_app.records.correct(
        commands.Correct(MARKET, record_id, penalty(penalty_content="部门更正"), "更正")
    )
    corrected = utcnow()
    await uphold(records_app, record_id, {"violation_type": "异议更正"}, decided_at=decided)
    subject_id = (await records_app.records.get(record_id, Level.RESTRICTED)).record.subject_id

    async def seen(at: dt.datetime | None) -> list[tuple[int, str, str]]:
        views, _ = await records_app.records.for_subject(
            commands.ListForSubject(subject_id, Level.RESTRICTED, as_of=at)
        )
        return [
            (
                v.version.version,
                v.version.fields["penalty_content"],
                v.version.fields["violation_type"],
            )
            for v in views
        ]

    assert await seen(decided) == [(1, "警告", "超范围经营")]
    assert await seen(corrected) == [(2, "部门更正", "超范围经营")]
    assert await seen(None) == [(3, "部门更正", "异议更正")]


async def test_levels_see_what_the_catalog_and_the_windows_allow(
    records_app: RecordsApp, registry_process: ServiceProcess
) -> None:
    code = await register(registry_process)
    old = utcnow().date() - dt.timedelta(days=500)
    subject_id = (
        await records_app.records.submit(submit(code, "minor-1", severity="minor"))
    ).view.record.subject_id
    await records_app.records.submit(submit(code, "old-general", decided=old))
    await records_app.records.submit(
        submit(code, "grade", caller=TAX, item="tax_credit_grade", grade="A", year=2025)
    )

    async def refs(level: Level) -> set[str]:
        views, _ = await records_app.records.for_subject(commands.ListForSubject(subject_id, level))
        return {v.record.source_ref for v in views}

    assert await refs(Level.PUBLIC) == set()
    assert await refs(Level.SHARED) == {"minor-1", "old-general", "grade"}


async def test_merges_objections_and_repairs_arrive_as_events(
    records_app: RecordsApp, registry_process: ServiceProcess
) -> None:
    survivor = await register(registry_process, "存续有限公司")
    duplicate = await register(registry_process, "重复有限公司")
    record = (await records_app.records.submit(submit(duplicate))).view.record
    survivor_id = uuid.uuid4()

    def envelope(kind: str, payload: Any) -> envelope_pb2.Envelope:
        message = envelope_pb2.Envelope(event_id=str(uuid.uuid4()), type=kind)
        message.occurred_at.FromDatetime(utcnow())
        message.payload.Pack(payload)
        return message

    handlers = records_app.consumers.handlers()
    async with records_app.db.transaction() as conn:
        await handlers["subject.merged"](
            conn,
            envelope(
                "subject.merged",
                subject_pb2.SubjectMerged(
                    subject_id=str(record.subject_id),
                    merged_code=duplicate,
                    survivor_code=survivor,
                    survivor_id=str(survivor_id),
                    reason="重复",
                ),
            ),
        )
    views, _ = await records_app.records.for_subject(
        commands.ListForSubject(survivor_id, Level.PUBLIC)
    )
    assert [v.record.id for v in views] == [record.id]

    target = objections_pb2.Target(kind="record", id=str(record.id))
    async with records_app.db.transaction() as conn:
        await handlers["objection.filed"](
            conn,
            envelope(
                "objection.filed",
                objections_pb2.ObjectionFiled(objection_id="obj-1", target=target),
            ),
        )
    assert (await records_app.records.get(record.id, Level.PUBLIC)).under_objection
    closed = objections_pb2.ObjectionClosed(
        objection_id="obj-1",
        target=target,
        outcome="upheld",
        reason="事实有误",
        decided_by="credit-centre",
    )
    closed.corrected_fields.update({"penalty_content": "经异议更正"})
    async with records_app.db.transaction() as conn:
        await handlers["objection.closed"](conn, envelope("objection.closed", closed))
    after = await records_app.records.get(record.id, Level.PUBLIC)
    assert not after.under_objection and after.version.version == 2
    assert after.version.fields["penalty_content"] == "经异议更正"

    async with records_app.db.transaction() as conn:
        await handlers["repair.decided"](
            conn,
            envelope(
                "repair.decided",
                objections_pb2.RepairDecided(
                    repair_id="rep-1", target=target, approved=True, reason="已整改"
                ),
            ),
        )
    with pytest.raises(Exception, match="no such record"):
        await records_app.records.get(record.id, Level.PUBLIC)
    shared = await records_app.records.get(record.id, Level.SHARED)
    assert shared.repaired


async def test_a_court_record_is_public_while_its_listing_lasts(
    records_app: RecordsApp, registry_process: ServiceProcess
) -> None:
    code = await register(registry_process)
    record = (
        await records_app.records.submit(
            submit(code, "执1号", caller=COURT, item="court_dishonest", **DISHONEST)
        )
    ).view.record
    penalty_record = (await records_app.records.submit(submit(code, "罚1号"))).view.record
    heard = utcnow()
    valid_until = heard + dt.timedelta(days=730)

    async def tell(
        kind: str,
        entry_id: str,
        at: dt.datetime,
        *basis: uuid.UUID,
        until: dt.datetime = valid_until,
        reason: str = "履行完毕",
        state: str = "",
        ended_at: dt.datetime | None = None,
    ) -> None:
        payload = lists_pb2.EntryChanged(
            entry_id=entry_id,
            subject_id=str(record.subject_id),
            subject_key=code,
            list_type="court_dishonest_debtor",
            to_state=state or kind,
            ended_at=timestamp(ended_at),
            reason=reason,
            basis_record_ids=[str(b) for b in basis],
            valid_until=timestamp(until),
        )
        message = envelope_pb2.Envelope(event_id=str(uuid.uuid4()), type=f"entry.{kind}")
        message.occurred_at.FromDatetime(at)
        message.payload.Pack(payload)
        async with records_app.db.transaction() as conn:
            await records_app.consumers.handlers()[message.type](conn, message)

    async def public(at: dt.datetime | None = None) -> set[str]:
        views, _ = await records_app.records.for_subject(
            commands.ListForSubject(record.subject_id, Level.PUBLIC, as_of=at)
        )
        return {v.record.source_ref for v in views}

    async def shown(record_id: uuid.UUID) -> tuple[str, bool]:
        seen = await records_app.records.get(record_id, Level.SHARED)
        return (
            seen.record.publicity_until.isoformat() if seen.record.publicity_until else "",
            seen.publicly_visible,
        )

    assert await public() == {"执1号", "罚1号"}
    assert await shown(record.id) == ("", True)  # not yet heard of a listing: no end known
    await tell("effective", "entry-1", heard, record.id, penalty_record.id)
    assert await public() == {"执1号", "罚1号"}
    assert await shown(record.id) == (china_date(valid_until).isoformat(), True)
    penalty_window = (await records_app.records.get(penalty_record.id, Level.SHARED)).record
    assert penalty_window.unlisted_at is None  # a penalty's publicity is its own

    removed = utcnow()
    # A removal's reason may be longer than record history keeps (1,000 characters).
    await tell("removed", "entry-1", removed, record.id, penalty_record.id, reason="已履行" * 333)
    assert await public() == {"罚1号"}
    assert await public(removed - dt.timedelta(microseconds=1)) == {"执1号", "罚1号"}
    assert await shown(record.id) == (china_date(removed).isoformat(), False)
    # The proposal heard late (parked, then replayed) does not make the entry current again.
    await tell("proposed", "entry-1", heard, record.id)
    assert await public() == {"罚1号"}
    # Listed again on the same record: public again until that listing ends.
    await tell("effective", "entry-2", utcnow(), record.id)
    assert await public() == {"执1号", "罚1号"}
    await tell("expired", "entry-2", utcnow(), record.id)
    assert await public() == {"罚1号"}
    # A listing's end of validity needs no event of its own: once it has passed (as told
    # with the listing), the record is not public.
    await tell("effective", "entry-3", utcnow(), record.id, until=utcnow())
    assert await public() == {"罚1号"}
    # A validity ending at midnight in China: its last public day is the day before.
    midnight = china_day_start(china_date(utcnow()) + dt.timedelta(days=400))
    await tell("effective", "entry-4", utcnow(), record.id, until=midnight)
    assert await public() == {"执1号", "罚1号"}
    last_day = china_date(midnight) - dt.timedelta(days=1)
    assert await shown(record.id) == (last_day.isoformat(), True)
    # An older event of the same entry, applied late (parked, then replayed), changes nothing.
    await tell("proposed", "entry-4", heard, record.id, until=utcnow())
    assert await shown(record.id) == (last_day.isoformat(), True)
    # Told once after an upgrade (tell-listings): a listing removed an hour ago ends then.
    second = (
        await records_app.records.submit(
            submit(code, "执2号", caller=COURT, item="court_dishonest", **DISHONEST)
        )
    ).view.record
    an_hour_ago = utcnow() - dt.timedelta(hours=1)
    await tell("told", "entry-5", utcnow(), second.id, state="removed", ended_at=an_hour_ago)
    assert "执2号" not in await public()
    assert await shown(second.id) == (china_date(an_hour_ago).isoformat(), False)


async def test_an_upheld_objection_may_correct_a_validity_to_9999_12_31(
    records_app: RecordsApp, registry_process: ServiceProcess
) -> None:
    """长期有效 is 9999-12-31: the correction is applied and the record kept for good (the
    retention used to overflow, the event was retried until dead-lettered, the record never
    corrected)."""
    code = await register(registry_process)
    honoured = {
        "level": "A",
        "valid_from": "2026-01-01",
        "valid_until": "2027-12-31",
        "awarding_authority": "某市市场监督管理局",
    }
    record = (
        await records_app.records.submit(submit(code, item="contract_honoring", **honoured))
    ).view.record
    await uphold(records_app, record.id, {"valid_until": "9999-12-31"})
    after = (await records_app.records.get(record.id, Level.RESTRICTED)).record
    assert after.current_version == 2
    assert after.window.publicity_until == after.window.retention_until == dt.date.max


async def test_an_upheld_correction_a_newer_schema_refuses_clears_the_mark_and_changes_nothing(
    records_app: RecordsApp, registry_process: ServiceProcess
) -> None:
    """The objections service checks corrected fields against the schema of the day of
    verification. One published between that and the decision refused them here: the
    whole closing rolled back, was retried until parked, and the record stayed under
    objection for good. Now the mark is cleared and the refusal is in the history."""
    code = await register(registry_process)
    record = (await records_app.records.submit(submit(code))).view.record
    target = objections_pb2.Target(kind="record", id=str(record.id))
    filed = envelope_pb2.Envelope(event_id=str(uuid.uuid4()), type="objection.filed")
    filed.occurred_at.FromDatetime(utcnow())
    filed.payload.Pack(objections_pb2.ObjectionFiled(objection_id="obj-s", target=target))
    async with records_app.db.transaction() as conn:
        await records_app.consumers.handlers()["objection.filed"](conn, filed)
    assert (await records_app.records.get(record.id, Level.PUBLIC)).under_objection
    shipped = await records_app.catalog.get("admin_penalty")
    schema = json.loads(json.dumps(shipped.fields_schema))
    schema["properties"]["deciding_authority_code"] = {"type": "string"}
    schema["required"] = [*schema["required"], "deciding_authority_code"]
    await records_app.catalog.put(dataclasses.replace(shipped, fields_schema=schema), "admin")

    await uphold(records_app, record.id, {"penalty_content": "经异议更正"}, objection_id="obj-s")
    after = await records_app.records.get(record.id, Level.RESTRICTED)
    assert not after.under_objection and after.record.current_version == 1
    async with records_app.db.read() as conn:
        history = (
            await conn.execute(
                sa.select(tables.record_history.c.change, tables.record_history.c.reason).where(
                    tables.record_history.c.record_id == record.id
                )
            )
        ).all()
    refused = [h for h in history if h.change == "correction_refused"]
    assert len(refused) == 1 and "deciding_authority_code" in refused[0].reason, history


async def test_a_subjects_records_come_once_each_with_every_version_and_mark(
    records_app: RecordsApp, registry_process: ServiceProcess
) -> None:
    """A subject's records are read in one statement, a row per version and mark: each
    record still comes once, its versions in order, each mark once, the newest decision
    first, and a version's fields decode from the stored JSON text."""
    code = await register(registry_process)
    today = utcnow().date()
    newer = (
        await records_app.records.submit(submit(code, "某监罚〔2026〕31号", today))
    ).view.record
    older = (
        await records_app.records.submit(
            submit(code, "某监罚〔2026〕32号", today - dt.timedelta(days=5))
        )
    ).view.record
    await records_app.records.correct(
        commands.Correct(MARKET, newer.id, penalty(penalty_content="警告（更正）"), "文字错误")
    )
    handlers = records_app.consumers.handlers()
    target = objections_pb2.Target(kind="record", id=str(newer.id))
    for kind, payload in (
        ("objection.filed", objections_pb2.ObjectionFiled(objection_id="o-1", target=target)),
        ("objection.filed", objections_pb2.ObjectionFiled(objection_id="o-2", target=target)),
        (
            "objection.closed",
            objections_pb2.ObjectionClosed(objection_id="o-1", target=target, outcome="rejected"),
        ),
    ):
        message = envelope_pb2.Envelope(event_id=str(uuid.uuid4()), type=kind)
        message.occurred_at.FromDatetime(utcnow())
        message.payload.Pack(payload)
        async with records_app.db.transaction() as conn:
            await handlers[kind](conn, message)

    views, _ = await records_app.records.for_subject(
        commands.ListForSubject(newer.subject_id, Level.SHARED)
    )
    assert [v.record.id for v in views] == [newer.id, older.id]
    first, second = (v.record for v in views)
    assert [v.version for v in first.versions] == [1, 2]
    assert [v.fields["penalty_content"] for v in first.versions] == ["警告", "警告（更正）"]
    assert len(first.marks) == 2 and sorted(c is None for _, c in first.marks) == [False, True]
    assert views[0].under_objection and views[0].version.version == 2
    assert [v.version for v in second.versions] == [1] and second.marks == []
    assert second.versions[0].fields == penalty() and not views[1].under_objection


async def test_a_subjects_records_are_read_a_chunk_at_a_time_up_to_the_page(
    records_app: RecordsApp, registry_process: ServiceProcess
) -> None:
    """A subject with thousands of records: a page reads them in chunks of rows (bounded
    statements), as far as the page, and the pages read so come out as one whole read
    would give them, even where a record has more versions than a chunk has rows and
    where two records share a decision date."""
    code = await register(registry_process)
    today = utcnow().date()
    ids = []
    for n, days in enumerate((1, 2, 2, 2, 3, 5, 8, 13)):
        ref = f"某监罚〔2026〕{100 + n}号"
        submitted = await records_app.records.submit(
            submit(code, ref, today - dt.timedelta(days=days))
        )
        ids.append(submitted.view.record.id)
    for n in range(4):  # five versions: more rows than a chunk
        await records_app.records.correct(
            commands.Correct(MARKET, ids[2], penalty(penalty_content=f"警告{n}"), "更正")
        )
    subject_id = (await records_app.records.get(ids[0], Level.SHARED)).record.subject_id

    async def pages(page_size: int) -> list[tuple[uuid.UUID, int]]:
        read: list[tuple[uuid.UUID, int]] = []
        offset: int | None = 0
        while offset is not None:
            views, offset = await records_app.records.for_subject(
                commands.ListForSubject(
                    subject_id, Level.SHARED, page_size=page_size, offset=offset
                )
            )
            read += [(v.record.id, len(v.record.versions)) for v in views]
        return read

    whole = await pages(500)
    assert sorted(i for i, _ in whole) == sorted(ids) and dict(whole)[ids[2]] == 5
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "record_versions" in statement:
            statements.append(statement)

    engine = records_app.db.engine.sync_engine
    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        records_app.records.chunk_rows = 3
        for size in (1, 2, 3, 500):
            assert await pages(size) == whole
        statements.clear()
        first, _ = await records_app.records.for_subject(
            commands.ListForSubject(subject_id, Level.SHARED, page_size=1)
        )
        assert [v.record.id for v in first] == [whole[0][0]]
        of_subject = [s for s in statements if "WHERE records.subject_id" in s]
        assert of_subject and all("LIMIT" in s.upper() for s in of_subject)
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)


async def test_an_objection_closed_before_its_filing_arrives_leaves_no_mark(
    records_app: RecordsApp, registry_process: ServiceProcess
) -> None:
    """The stream consumer moves past an event that failed and takes it again later: an
    objection's closing could come before its filing, which then marked the record under
    objection for good (no closing would come again to clear it)."""
    code = await register(registry_process)
    record = (await records_app.records.submit(submit(code, "某监罚〔2026〕41号"))).view.record
    handlers = records_app.consumers.handlers()
    target = objections_pb2.Target(kind="record", id=str(record.id))
    for kind, payload in (
        (
            "objection.closed",
            objections_pb2.ObjectionClosed(objection_id="o-9", target=target, outcome="dismissed"),
        ),
        ("objection.filed", objections_pb2.ObjectionFiled(objection_id="o-9", target=target)),
    ):
        message = envelope_pb2.Envelope(event_id=str(uuid.uuid4()), type=kind)
        message.occurred_at.FromDatetime(utcnow())
        message.payload.Pack(payload)
        async with records_app.db.transaction() as conn:
            await handlers[kind](conn, message)
    seen = await records_app.records.get(record.id, Level.SHARED)
    assert not seen.under_objection
    assert [closed is not None for _, closed in seen.record.marks] == [True]


async def test_a_change_that_waited_for_a_records_lock_reads_the_version_added_meanwhile(
    records_app: RecordsApp, registry_process: ServiceProcess
) -> None:
    """Two changes of one record at once (a department's correction, an upheld objection):
    the second waits for the first's lock, then reads the record with the version the first
    added, so the version it adds builds on that one and nothing is lost."""
    if records_app.db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: the second change cannot begin")
    code = await register(registry_process)
    submitted = await records_app.records.submit(submit(code, "某监罚〔2026〕41号"))
    record_id = submitted.view.record.id

    async def second() -> StoredRecord | None:
        async with records_app.db.transaction() as conn:
            return await RecordRepository(conn).get(record_id, for_update=True)

    async with records_app.db.transaction() as conn:
        repo = RecordRepository(conn)
        first = await repo.get(record_id, for_update=True)
        assert first is not None
        waiting = asyncio.create_task(second())
        await asyncio.sleep(0.5)  # it asks for the lock meanwhile, and waits
        assert not waiting.done()
        await records_app.records.apply_correction(
            repo,
            first,
            penalty(penalty_content="警告（更正）"),
            "cl_market",
            "market_regulation",
            "文字错误",
            utcnow(),
        )
    seen = await waiting
    assert seen is not None and seen.current_version == 2
    assert [v.version for v in seen.versions] == [1, 2]
    assert seen.versions[-1].fields["penalty_content"] == "警告（更正）"


async def test_a_subjects_records_carry_their_fields_as_json_text_when_asked(
    records_process: ServiceProcess, registry_process: ServiceProcess
) -> None:
    code = await register(registry_process)
    fields = penalty(penalty_kinds=["warning", "fine"], fine_amount=5000)
    body = struct_pb2.Struct()
    body.update(fields)
    async with grpc.aio.insecure_channel(records_process.address) as channel:
        stub = records_pb2_grpc.RecordsServiceStub(channel)
        submitted = await stub.SubmitRecord(
            records_pb2.SubmitRecordRequest(
                caller=records_pb2.Caller(client_id="cl_market", department="market_regulation"),
                subject_code=code,
                item_code="admin_penalty",
                source_ref="某监罚〔2026〕77号",
                decided_on=(utcnow().date() - dt.timedelta(days=1)).isoformat(),
                fields=body,
            ),
            timeout=10,
        )
        subject_id = submitted.record.subject_id

        async def listed(as_json: bool) -> records_pb2.Record:
            reply = await stub.ListSubjectRecords(
                records_pb2.ListSubjectRecordsRequest(
                    subject_id=subject_id,
                    level=records_pb2.LEVEL_RESTRICTED,
                    fields_as_json=as_json,
                ),
                timeout=10,
            )
            [record] = reply.records
            return record

        as_json, as_struct = await listed(True), await listed(False)
    assert json.loads(as_json.fields_json) == fields
    assert not as_json.HasField("fields")
    assert json_format.MessageToDict(as_struct.fields) == fields
    assert as_struct.fields_json == ""
    as_json.ClearField("fields_json")
    as_struct.ClearField("fields")
    assert as_json == as_struct  # the rest of the record is the same either way


async def test_fields_sent_over_grpc_with_nan_or_an_infinity_are_an_invalid_argument(
    records_process: ServiceProcess, registry_process: ServiceProcess
) -> None:
    """A Struct carries NaN and the infinities, JSON does not: the call used to fail as
    INTERNAL; now the caller is told which field."""
    code = await register(registry_process)
    caller = records_pb2.Caller(client_id="cl_market", department="market_regulation")
    good, bad = struct_pb2.Struct(), struct_pb2.Struct()
    good.update(penalty())
    bad.update(penalty(fine_amount=math.nan))
    async with grpc.aio.insecure_channel(records_process.address) as channel:
        stub = records_pb2_grpc.RecordsServiceStub(channel)
        submit = records_pb2.SubmitRecordRequest(
            caller=caller,
            subject_code=code,
            item_code="admin_penalty",
            source_ref="某监罚〔2026〕78号",
            decided_on=(utcnow().date() - dt.timedelta(days=1)).isoformat(),
            fields=bad,
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.SubmitRecord(submit, timeout=10)
        submit.fields.CopyFrom(good)
        record_id = (await stub.SubmitRecord(submit, timeout=10)).record.record_id
        bad.update({"fine_amount": math.inf})
        with pytest.raises(grpc.aio.AioRpcError) as refused_correction:
            await stub.CorrectRecord(
                records_pb2.CorrectRecordRequest(
                    caller=caller, record_id=record_id, fields=bad, reason="更正"
                ),
                timeout=10,
            )
    for error in (refused.value, refused_correction.value):
        remote = from_rpc_error(error)
        assert remote.code == grpc.StatusCode.INVALID_ARGUMENT, remote.message
        assert [v.field for v in remote.violations] == ["fields"]


async def test_records_stored_together_come_back_exactly_as_given(records_app: RecordsApp) -> None:
    """Several records at once go by COPY on PostgreSQL, as lines made here: texts with
    tabs, line breaks and backslashes, empty dates and times, both booleans survive."""
    now = utcnow()
    nasty = "a\tb\\c\nd\re \\N"

    def record(i: int, *, ended: bool) -> StoredRecord:
        day = dt.date(2026, 1, 2 + i)
        fields = {"facts": nasty, "amount": 1.5, "kinds": ["x", "y"], "n": None}
        return StoredRecord(
            id=uuid.uuid4(),
            subject_id=uuid.uuid4(),
            subject_key=f"key\\{i}",
            item_code="admin_penalty",
            department="market_regulation",
            source_ref=f"{nasty}{i}",
            decided_on=day,
            content_hash=f"{i:064x}",
            current_version=1,
            window=Window(
                never_public=ended,
                publicity_until=None if ended else day + dt.timedelta(days=90),
                retention_until=day + dt.timedelta(days=1825),
                repairable=not ended,
                repair_possible_from=None if ended else day + dt.timedelta(days=30),
                severity="" if ended else "minor",
            ),
            late=ended,
            submitted_at=now,
            submitted_by="cl\tmarket",
            updated_at=now + dt.timedelta(microseconds=i),
            withdrawn_at=now if ended else None,
            repaired_at=now + dt.timedelta(seconds=1) if ended else None,
            versions=[
                Version(
                    1,
                    None,
                    3,
                    now,
                    "cl\tmarket",
                    "market_regulation",
                    nasty,
                    json.dumps(fields, ensure_ascii=False),
                )
            ],
        )

    given = [record(i, ended=i % 2 == 1) for i in range(3)]
    async with records_app.db.transaction() as conn:
        await RecordRepository(conn).insert(given)
    async with records_app.db.read() as conn:
        stored = [await RecordRepository(conn).get(r.id) for r in given]
    for before, after in zip(given, stored, strict=True):
        assert after is not None
        for name in StoredRecord.__dataclass_fields__:
            if name != "versions":
                assert getattr(after, name) == getattr(before, name), name
        (version,) = after.versions
        assert version.fields == before.versions[0].fields
        assert version.fields["facts"] == nasty
        assert (version.version, version.schema_version, version.recorded_at) == (1, 3, now)
        assert (version.recorded_by, version.department, version.reason) == (
            "cl\tmarket",
            "market_regulation",
            nasty,
        )


async def test_a_bulk_row_whose_json_escapes_a_lone_surrogate_is_rejected_on_its_own(
    records_process: ServiceProcess, registry_process: ServiceProcess
) -> None:
    """`"\\ud800"` in a row's JSON text decodes to no text (its content hash, the database
    and protobuf all fail on it): sent straight over gRPC, it failed the whole stream as
    INTERNAL; now that row is rejected with the field named and the others are stored."""
    code = await register(registry_process)
    caller = records_pb2.Caller(client_id="cl_market", department="market_regulation")
    decided = (utcnow().date() - dt.timedelta(days=1)).isoformat()

    def row(number: int, fields_json: str) -> records_pb2.IngestRow:
        return records_pb2.IngestRow(
            row=number,
            subject_code=code,
            item_code="admin_penalty",
            source_ref=f"某监罚〔2026〕{number}号",
            decided_on=decided,
            fields_json=fields_json,
        )

    good = json.dumps(penalty(), ensure_ascii=False)
    escaped = json.dumps(penalty(violation_facts="超\ud800范围"))  # ASCII: the escape
    named = json.dumps({**penalty(), "坏\udfff": "x"})

    async def messages() -> Any:
        yield records_pb2.IngestRecordsRequest(options=records_pb2.IngestOptions(caller=caller))
        rows = [row(1, good), row(2, escaped), row(3, named), row(4, good.replace("警告", "罚款"))]
        yield records_pb2.IngestRecordsRequest(rows=records_pb2.IngestRows(rows=rows))

    async with grpc.aio.insecure_channel(records_process.address) as channel:
        reply = await records_pb2_grpc.RecordsServiceStub(channel).IngestRecords(
            messages(), timeout=20
        )
    assert reply.accepted == 2, reply
    rejected = {r.row: [e.field for e in r.errors] for r in reply.rejected}
    assert rejected[2][0] == "fields.violation_facts"
    assert rejected[3][0] == "fields.坏\\udfff"


def test_copy_text_of_a_moment_is_its_own_even_an_hour_apart_in_summer_time() -> None:
    """Two moments an hour apart at a summer-time change compare equal (fold 0 and 1):
    only UTC moments, which never do, are remembered."""
    from zoneinfo import ZoneInfo

    from credit_records.adapters.repository import _moment

    zone = ZoneInfo("America/New_York")
    first = dt.datetime(2026, 11, 1, 1, 30, tzinfo=zone)
    second = first.replace(fold=1)
    assert _moment(first) == "2026-11-01T01:30:00-04:00"
    assert _moment(second) == "2026-11-01T01:30:00-05:00"
    now = utcnow()
    assert _moment(now) == now.isoformat() and _moment(None) == "\\N"


async def test_the_service_tells_a_record_past_its_retention_expired_on_its_own(
    registry_process: ServiceProcess,
    make_database_url: Callable[[str], str],
    redis_url: str,
    tmp_path: Path,
) -> None:
    """A records process sweeping every 0.2 s: a penalty decided in 2019, kept until
    2025, is told expired on the records stream once, with its history saying so."""
    database_url = make_database_url("rec")
    process = start_service(
        "credit_records",
        "CREDIT_RECORDS_",
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "REGISTRY_ADDRESS": registry_process.address,
            "EXPIRY_EVERY_SECONDS": "0.2",
        },
        tmp_path,
        port=free_port(),
    )
    redis = make_redis(redis_url)
    try:
        code = await register(registry_process)
        body = struct_pb2.Struct()
        body.update(penalty())
        async with grpc.aio.insecure_channel(process.address) as channel:
            submitted = await records_pb2_grpc.RecordsServiceStub(channel).SubmitRecord(
                records_pb2.SubmitRecordRequest(
                    caller=records_pb2.Caller(
                        client_id="cl_market", department="market_regulation"
                    ),
                    subject_code=code,
                    item_code="admin_penalty",
                    source_ref="某监罚〔2019〕5号",
                    decided_on="2019-03-01",
                    fields=body,
                ),
                timeout=10,
            )
        record_id = submitted.record.record_id
        assert submitted.record.status == "expired"

        async def told() -> list[events_pb2.RecordExpired]:
            """This record's record.expired events on the stream (other tests' records
            services may have told theirs on the same Redis)."""
            found = []
            for _, entry in await redis.xrange(stream_name("records")):
                envelope = envelope_pb2.Envelope.FromString(entry[b"envelope"])
                if envelope.type == "record.expired":
                    expired = events_pb2.RecordExpired()
                    envelope.payload.Unpack(expired)
                    if expired.record.record_id == record_id:
                        found.append(expired)
            return found

        first: list[events_pb2.RecordExpired] = []
        for _ in range(200):
            if first := await told():
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # further sweeps tell nothing more
        later = await told()
    finally:
        await redis.aclose()
        process.stop()
    assert len(first) == 1 and len(later) == 1
    assert first[0].record.status == "expired" and first[0].retention_until < "2026"
    engine = sa.create_engine(sync_url(database_url))
    with engine.connect() as conn:
        changes = (
            conn.execute(
                sa.select(tables.record_history.c.change).where(
                    tables.record_history.c.record_id
                    == (uuid.UUID(record_id) if conn.dialect.name == "postgresql" else record_id)
                )
            )
            .scalars()
            .all()
        )
    engine.dispose()
    assert changes == ["expired"]
