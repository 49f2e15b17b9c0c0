"""A record sent again, alone or in a bulk load, against a real database and registry: the
same source_ref with the same content answers the record, other content is a conflict
(API.md), "the same" meaning the record as it now stands (its current fields, under the
subject it now belongs to). And a court record's retention, stored as its listings end."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf import struct_pb2

from credit.events.v1 import envelope_pb2, lists_pb2, subject_pb2
from credit.registry.v1 import registry_pb2 as rpb
from credit.registry.v1 import registry_pb2_grpc as rpb_grpc
from credit_common.errors import Conflict
from credit_common.messages import struct_fields, timestamp
from credit_common.timeutil import china_date, days_on, utcnow
from credit_records.adapters import tables as t
from credit_records.bootstrap import RecordsApp
from credit_records.domain.catalog import Level
from credit_records.service_layer import commands
from credit_records.service_layer.ingest import IngestResult, RowIn
from e2e.test_records_service import COURT, DISHONEST, MARKET, TAX, penalty, register, uphold
from support.processes import ServiceProcess

GRADE = {"grade": "A", "year": 2025, "evaluating_authority": "国家税务总局上海市税务局"}


def sent_alone(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields as SubmitRecord and CorrectRecord get them: through a protobuf Struct
    (every number a double: 2025 is 2025.0)."""
    message = struct_pb2.Struct()
    message.update(fields)
    return struct_fields(message, "fields")


def row(number: int, code: str, item: str, ref: str, fields: dict[str, Any]) -> RowIn:
    """A bulk row as the gateway sends it: the fields as JSON text (integers kept)."""
    decided = (utcnow().date() - dt.timedelta(days=1)).isoformat()
    return RowIn(number, code, item, ref, decided, json.dumps(fields, ensure_ascii=False))


async def load(
    records_app: RecordsApp, caller: commands.Caller, rows: Sequence[RowIn]
) -> IngestResult:
    async def chunks() -> AsyncIterator[Sequence[RowIn]]:
        yield rows

    return await records_app.ingestion.run(caller, chunks(), atomic=False)


def outcome(result: IngestResult) -> tuple[int, int, list[int]]:
    return result.accepted, result.unchanged, [number for number, _ in result.rejected]


def submit(code: str, item: str, ref: str, fields: dict[str, Any]) -> commands.Submit:
    caller = TAX if item == "tax_credit_grade" else MARKET
    decided = (utcnow().date() - dt.timedelta(days=1)).isoformat()
    return commands.Submit(caller, code, item, ref, decided, sent_alone(fields))


async def test_a_record_sent_alone_and_then_in_bulk_is_unchanged(
    records_app: RecordsApp, registry_process: ServiceProcess
) -> None:
    """Its Struct made `year` 2025.0, the bulk row keeps 2025: the row used to be refused as
    "already names a record with other content"."""
    code = await register(registry_process)
    alone = await records_app.records.submit(submit(code, "tax_credit_grade", "税信1号", GRADE))
    assert alone.created
    result = await load(records_app, TAX, [row(1, code, "tax_credit_grade", "税信1号", GRADE)])
    assert outcome(result) == (0, 1, [])
    other = {**GRADE, "year": 2024}
    result = await load(records_app, TAX, [row(1, code, "tax_credit_grade", "税信1号", other)])
    assert outcome(result) == (0, 0, [1])
    # And the other way round: loaded in bulk, then sent alone.
    result = await load(records_app, TAX, [row(1, code, "tax_credit_grade", "税信2号", GRADE)])
    assert outcome(result) == (1, 0, [])
    again = await records_app.records.submit(submit(code, "tax_credit_grade", "税信2号", GRADE))
    assert not again.created and again.view.version.version == 1


async def test_an_unchanged_correction_of_a_bulk_loaded_record_adds_no_version(
    records_app: RecordsApp, registry_process: ServiceProcess
) -> None:
    """A correction retried after a timeout, its fields through a Struct: it used to add
    version 2 and show the record `corrected`."""
    code = await register(registry_process)
    result = await load(records_app, TAX, [row(1, code, "tax_credit_grade", "T-9", GRADE)])
    assert outcome(result) == (1, 0, [])
    async with records_app.db.read() as conn:
        record_id = await conn.scalar(
            sa.select(t.records.c.id).where(t.records.c.source_ref == "T-9")
        )
    seen = await records_app.records.correct(
        commands.Correct(TAX, record_id, sent_alone(GRADE), "重试")
    )
    assert (seen.version.version, seen.status) == (1, "active")


async def test_a_load_sent_again_after_its_subject_was_merged_changes_nothing(
    records_app: RecordsApp, registry_process: ServiceProcess
) -> None:
    """Rows loaded for a duplicate, the duplicate merged into its survivor, the same file
    sent again (its code now resolves to the survivor): each row is unchanged. It used to
    be refused: the record's content hash still named the duplicate."""
    survivor = await register(registry_process, "存续科技有限公司")
    duplicate = await register(registry_process, "重复科技有限公司")
    rows = [
        row(1, duplicate, "tax_credit_grade", "税信〔2026〕5号", GRADE),
        row(2, duplicate, "tax_credit_grade", "税信〔2026〕6号", {**GRADE, "grade": "B"}),
    ]
    assert outcome(await load(records_app, TAX, rows)) == (2, 0, [])
    penalised = await records_app.records.submit(
        submit(duplicate, "admin_penalty", "某监罚〔2026〕5号", penalty(fine_amount=2000))
    )
    duplicate_id = penalised.view.record.subject_id
    async with grpc.aio.insecure_channel(registry_process.address) as channel:
        merged = await rpb_grpc.RegistryServiceStub(channel).MergeSubject(
            rpb.MergeSubjectRequest(code=duplicate, into=survivor, reason="重复登记", actor="t"),
            timeout=10,
        )
    survivor_id = uuid.UUID(merged.subject_id)
    message = envelope_pb2.Envelope(event_id=str(uuid.uuid4()), type="subject.merged")
    message.occurred_at.FromDatetime(utcnow())
    message.payload.Pack(
        subject_pb2.SubjectMerged(
            subject_id=str(duplicate_id),
            merged_code=duplicate,
            survivor_code=survivor,
            survivor_id=str(survivor_id),
            reason="重复登记",
        )
    )
    async with records_app.db.transaction() as conn:
        await records_app.consumers.handlers()["subject.merged"](conn, message)

    assert outcome(await load(records_app, TAX, rows)) == (0, 2, [])
    # Sent by the survivor's own code, or alone, it is the same record too.
    by_survivor = [dataclasses.replace(r, subject_code=survivor) for r in rows]
    assert outcome(await load(records_app, TAX, by_survivor)) == (0, 2, [])
    for code in (duplicate, survivor):
        again = await records_app.records.submit(
            submit(code, "admin_penalty", "某监罚〔2026〕5号", penalty(fine_amount=2000))
        )
        assert not again.created and again.view.record.id == penalised.view.record.id
        assert again.view.record.subject_id == survivor_id
    # Other content is still a conflict.
    changed = [row(1, duplicate, "tax_credit_grade", "税信〔2026〕5号", {**GRADE, "grade": "C"})]
    assert outcome(await load(records_app, TAX, changed)) == (0, 0, [1])


async def test_a_resend_between_a_merge_and_this_service_hearing_it_changes_nothing(
    records_app: RecordsApp, registry_process: ServiceProcess
) -> None:
    """The registry has merged the duplicate; this service has not heard it yet (its
    records are still under the duplicate). The same rows and record sent again, by either
    code (both resolve to the survivor now): unchanged, not a 409 because the content hash
    still names the duplicate. Other content is still a conflict."""
    survivor = await register(registry_process, "存续未闻科技有限公司")
    duplicate = await register(registry_process, "重复未闻科技有限公司")
    rows = [row(1, duplicate, "tax_credit_grade", "税信〔2026〕7号", GRADE)]
    assert outcome(await load(records_app, TAX, rows)) == (1, 0, [])
    penalised = await records_app.records.submit(
        submit(duplicate, "admin_penalty", "某监罚〔2026〕7号", penalty(fine_amount=2000))
    )
    async with grpc.aio.insecure_channel(registry_process.address) as channel:
        await rpb_grpc.RegistryServiceStub(channel).MergeSubject(
            rpb.MergeSubjectRequest(code=duplicate, into=survivor, reason="重复登记", actor="t"),
            timeout=10,
        )

    for code in (duplicate, survivor):
        again = [dataclasses.replace(r, subject_code=code) for r in rows]
        assert outcome(await load(records_app, TAX, again)) == (0, 1, [])
        resent = await records_app.records.submit(
            submit(code, "admin_penalty", "某监罚〔2026〕7号", penalty(fine_amount=2000))
        )
        assert not resent.created and resent.view.record.id == penalised.view.record.id
    changed = [row(1, survivor, "tax_credit_grade", "税信〔2026〕7号", {**GRADE, "grade": "C"})]
    assert outcome(await load(records_app, TAX, changed)) == (0, 0, [1])
    with pytest.raises(Conflict):
        await records_app.records.submit(
            submit(survivor, "admin_penalty", "某监罚〔2026〕7号", penalty(fine_amount=3000))
        )


async def test_corrected_content_sent_again_is_the_record_and_the_first_is_a_conflict(
    records_app: RecordsApp, registry_process: ServiceProcess
) -> None:
    """The record as it now stands is what a resubmission is compared with: its corrected
    fields sent again answer it (they used to be a 409); its first fields, which the
    department's data still holding them would send, are a 409 (they used to answer the
    corrected record as if nothing differed)."""
    code = await register(registry_process)
    first = await records_app.records.submit(submit(code, "tax_credit_grade", "T-10", GRADE))
    record_id = first.view.record.id
    corrected = {**GRADE, "grade": "B"}
    await records_app.records.correct(
        commands.Correct(TAX, record_id, sent_alone(corrected), "等级更正")
    )
    again = await records_app.records.submit(submit(code, "tax_credit_grade", "T-10", corrected))
    assert not again.created and again.view.version.version == 2
    result = await load(records_app, TAX, [row(1, code, "tax_credit_grade", "T-10", corrected)])
    assert outcome(result) == (0, 1, [])
    with pytest.raises(Conflict) as error:
        await records_app.records.submit(submit(code, "tax_credit_grade", "T-10", GRADE))
    assert error.value.reason == "duplicate_source_ref"
    result = await load(records_app, TAX, [row(1, code, "tax_credit_grade", "T-10", GRADE)])
    assert outcome(result) == (0, 0, [1])
    # Corrected by an upheld objection, the same.
    await uphold(records_app, record_id, {"grade": "M"})
    upheld = {**GRADE, "grade": "M"}
    again = await records_app.records.submit(submit(code, "tax_credit_grade", "T-10", upheld))
    assert not again.created and again.view.version.version == 3
    with pytest.raises(Conflict):
        await records_app.records.submit(submit(code, "tax_credit_grade", "T-10", corrected))


async def test_a_court_records_retention_is_stored_as_its_listings_end_becomes_known(
    records_app: RecordsApp, registry_process: ServiceProcess
) -> None:
    """Kept (9999-12-31) while listed; five years from its listings' last day once they
    end; kept again when listed anew without an end. It used to stay five years from the
    decision whatever its listings did."""
    code = await register(registry_process)
    decided = utcnow().date() - dt.timedelta(days=3)
    record = (
        await records_app.records.submit(
            commands.Submit(
                COURT, code, "court_dishonest", "(2026)沪0115执9号", decided.isoformat(), DISHONEST
            )
        )
    ).view.record

    async def tell(kind: str, entry_id: str, at: dt.datetime | None = None) -> None:
        payload = lists_pb2.EntryChanged(
            entry_id=entry_id,
            subject_id=str(record.subject_id),
            subject_key=code,
            list_type="court_dishonest_debtor",
            to_state=kind,
            reason="履行完毕",
            basis_record_ids=[str(record.id)],
            valid_until=timestamp(None),
        )
        message = envelope_pb2.Envelope(event_id=str(uuid.uuid4()), type=f"entry.{kind}")
        message.occurred_at.FromDatetime(at or utcnow())
        message.payload.Pack(payload)
        async with records_app.db.transaction() as conn:
            await records_app.consumers.handlers()[message.type](conn, message)

    async def kept() -> tuple[dt.date, dt.date]:
        """The retention shown, and the one stored."""
        seen = await records_app.records.get(record.id, Level.RESTRICTED)
        async with records_app.db.read() as conn:
            stored = await conn.scalar(
                sa.select(t.records.c.retention_until).where(t.records.c.id == record.id)
            )
        return seen.window.retention_until, stored

    assert await kept() == (dt.date.max, dt.date.max)
    await tell("effective", "entry-1")
    assert await kept() == (dt.date.max, dt.date.max)
    removed = utcnow()  # the moment it ended: the event's own
    await tell("removed", "entry-1", removed)
    last_day = china_date(removed - dt.timedelta(microseconds=1))
    five_years = days_on(last_day, 1825)  # the shipped item's "5 years", calendar years
    assert await kept() == (five_years, five_years)
    seen = await records_app.records.get(record.id, Level.SHARED)
    assert seen.status == "active" and not seen.publicly_visible
    await tell("effective", "entry-2")
    assert await kept() == (dt.date.max, dt.date.max)
