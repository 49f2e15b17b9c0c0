"""The records' part of the contract: the catalog, records, a subject's records."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

import grpc
from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import JSONResponse
from google.protobuf import struct_pb2
from starlette.convertors import Convertor, register_url_convertor

from credit.records.v1 import records_pb2 as rec
from credit_common.grpc_errors import RemoteError
from credit_gateway.adapters.backends import BackendUnavailable
from credit_gateway.adapters.public_cache import Hit
from credit_gateway.bootstrap import Gateway
from credit_gateway.domain.access import Caller, Level
from credit_gateway.entrypoints import caching, schemas
from credit_gateway.entrypoints.deps import (
    CallerDep,
    GatewayDep,
    ReadDep,
    audit,
    foreign_grant,
    level_for_subject,
    require,
)
from credit_gateway.entrypoints.problems import Problem
from credit_gateway.entrypoints.record_views import (
    LEVEL_TO_PB,
    code_of_key,
    fields_of,
    item_view,
    level_for_writer,
    publicity_ends,
    record_view,
    records_page,
    shown_code,
    shows_identity,
    versions_view,
)
from credit_gateway.entrypoints.responses import unstored

router = APIRouter(tags=["records"])
AdminDep = Annotated[Caller, require("admin")]
WriterDep = Annotated[Caller, require("records:write")]
RecordId = Annotated[str, Path(min_length=36, max_length=36, description="a record id (UUID)")]


class _UUIDText(Convertor[str]):
    """A path segment that is a UUID, kept as text: GET /v1/records/bulk is then no record
    id but a path that only POST answers (405), not a record id too short (422)."""

    regex = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("uuidtext", _UUIDText())


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


def _caller(caller: Caller) -> rec.Caller:
    return rec.Caller(client_id=caller.client_id, department=caller.department)


@router.get("/v1/catalog/items", response_model=schemas.CatalogList)
async def list_items(_: CallerDep, gateway: GatewayDep) -> schemas.CatalogList:
    """The credit information catalog."""
    reply = await gateway.records.catalog()
    return schemas.CatalogList(items=[item_view(i) for i in reply.items])


def _rule_of(body: schemas.CatalogItemCreate) -> schemas.PublicityRuleIn:
    """The item's publicity rule: `publicity`, with `publicity_days` (a fixed publicity of
    so many days) and `min_publicity_days` (its `days` and `min_days`) put in. Where a value
    is given both ways, the two must agree: neither silently wins."""
    rule = body.publicity or schemas.PublicityRuleIn()
    shorthand: dict[str, object] = {}
    if body.publicity_days is not None:
        shorthand |= {"kind": "fixed", "days": body.publicity_days}
    if body.min_publicity_days is not None:
        shorthand["min_days"] = body.min_publicity_days
    clashes = {
        name: value
        for name, value in shorthand.items()
        if name in rule.model_fields_set and getattr(rule, name) != value
    }
    if body.publicity_days is not None and rule.months:  # months would win over the days
        clashes["months"] = 0
    if clashes:
        raise Problem(
            422,
            "validation_failed",
            "publicity_days or min_publicity_days disagrees with publicity: give one of them",
            [
                {
                    "field": f"publicity.{name}",
                    "message": f"{getattr(rule, name)!r} here,"
                    f" {value!r} by publicity_days/min_publicity_days",
                }
                for name, value in clashes.items()
            ],
        )
    return rule.model_copy(update=shorthand)


@router.post("/v1/catalog/items", status_code=201, response_model=schemas.CatalogItemPublic)
async def put_item(
    body: schemas.CatalogItemCreate, caller: AdminDep, gateway: GatewayDep
) -> schemas.CatalogItemPublic:
    """Adds a catalog item, or a new version of one (stored records keep theirs)."""
    rule = _rule_of(body)
    try:
        publicity = rec.PublicityRule(
            kind=rule.kind,
            months=rule.months,
            days=rule.days,
            min_days=rule.min_days,
            until_field=rule.until_field,
            by_severity={
                k: rec.SeverityWindow(
                    publish=v.publish, min_months=v.min_months, max_months=v.max_months
                )
                for k, v in rule.by_severity.items()
            },
        )
    except ValueError as error:  # a number past what the service's int32 holds
        raise Problem(
            422,
            "validation_failed",
            "invalid publicity rule",
            [{"field": "publicity", "message": str(error)}],
        ) from error
    item = await gateway.records.put_item(
        rec.PutCatalogItemRequest(
            actor=caller.client_id,
            item=rec.CatalogItem(
                item_code=body.item_code,
                name=body.name,
                category=body.category,
                nature=body.nature,
                disclosure=body.disclosure,
                source_departments=body.source_departments,
                publicity=publicity,
                retention_days=body.retention_days,
                repairable=body.repairable,
                non_repairable_kinds=body.non_repairable_kinds,
                fields_schema=json.dumps(body.fields, ensure_ascii=False),
                late_after_workdays=body.late_after_workdays,
                nature_field=body.nature_by_value.field if body.nature_by_value else "",
                nature_values=dict(body.nature_by_value.values) if body.nature_by_value else {},
            ),
        )
    )
    await caching.drop_all(gateway)
    return item_view(item)


async def _as_written(
    gateway: Gateway, record: rec.Record, caller: Caller
) -> tuple[schemas.RecordPublic, bool]:
    """A record just written as its writer sees it (`level_for_writer`), and whether that
    shows a natural person's identity number. The write is done: a registry that does not
    answer now leaves the subject shown by its key (`code_of_key`), rather than making the
    answer a 503 whose retry finds the record moved on (409 invalid_transition)."""
    try:
        subject = await gateway.registry.get(record.subject_code, summary=True)
    except (BackendUnavailable, RemoteError):
        return record_view(record, code_of_key(record.subject_code), Level.RESTRICTED), False
    level = level_for_writer(subject, caller)
    # The fields are the writer's own, in full at any level (record_view masks identity
    # numbers in them below restricted).
    view = record_view(record, shown_code(subject, level), level).model_copy(
        update={"fields": fields_of(record)}
    )
    return view, shows_identity(subject, level)


@router.post(
    "/v1/records",
    status_code=201,
    response_model=schemas.RecordPublic,
    responses={
        200: {"model": schemas.RecordPublic, "description": "the same content was stored already"},
        409: {"description": "duplicate_source_ref: the source_ref names other content"},
    },
)
async def submit_record(body: schemas.RecordCreate, caller: WriterDep, gateway: GatewayDep) -> Any:
    """Submits one record for a subject; the department must be a source of the item.

    Its fields are read as a bulk upload reads an NDJSON line's: national field codes and
    Chinese names are taken for our names, text is stripped, empty values are left out,
    amounts and penalty kinds given as text are converted; so the same record sent here and
    in a bulk upload is the same content. A field given twice (by two names) is refused.

    The answer is the record as stored, its fields in full (the writer's own); its `level`
    says how its subject is shown: `public` (a natural person's identity number masked)
    unless the token allows `restricted`."""
    reply = await gateway.records.submit(
        rec.SubmitRecordRequest(
            caller=_caller(caller),
            subject_code=body.subject_code,
            item_code=body.item_code,
            source_ref=body.source_ref,
            decided_on=body.decided_on.isoformat(),
            fields=_struct(body.fields),
        )
    )
    await caching.drop(gateway, reply.record.subject_id)
    view, identity_shown = await _as_written(gateway, reply.record, caller)
    answer = JSONResponse(view.model_dump(mode="json"), status_code=201 if reply.created else 200)
    unstored(answer, identity_shown)
    return answer


async def _record_at_level(
    gateway: GatewayDep, record_id: str, read: ReadDep, response: Response, *, versions: bool
) -> tuple[rec.Record, str, Level]:
    """The record at the level the caller may see it at; an answer showing a natural
    person's identity number in full is marked no-store.

    A subject's own client sees its records at any level, so which subject a record is of
    is learnt first, at the restricted level (shown to nobody), for such a token; another
    subject's record it then reads as its token does on its own, not found where that
    sees nothing (a 404 alike for a record that is not there)."""
    own = read.caller.speaks_for_a_subject
    fetched = Level.RESTRICTED if own else read.level
    record = await _record(gateway, record_id, fetched, read, versions=versions)
    subject = await gateway.registry.get(record.subject_code, summary=True)
    if own and not read.caller.is_self(subject.code):
        fetched = read.within_token()
        record = await _record(gateway, record_id, fetched, read, versions=versions)
    level = level_for_subject(subject, read)
    audit(gateway, read, [subject.subject_key], "record", level)
    if level != fetched:  # the subject itself: everything, or the level it asked for
        record = await _record(gateway, record_id, level, read, versions=versions)
    unstored(response, shows_identity(subject, level))
    return record, shown_code(subject, level), level


async def _record(
    gateway: GatewayDep, record_id: str, level: Level, read: ReadDep, *, versions: bool
) -> rec.Record:
    try:
        return await gateway.records.get(
            rec.GetRecordRequest(
                record_id=record_id, level=LEVEL_TO_PB[level], with_versions=versions
            )
        )
    except RemoteError as error:
        if error.code == grpc.StatusCode.NOT_FOUND and read.grant is not None:
            # As for another subject's record: a grant does not tell which records exist.
            raise foreign_grant() from None
        raise


@router.get("/v1/records/{record_id:uuidtext}", response_model=schemas.RecordPublic)
async def get_record(
    record_id: RecordId, read: ReadDep, gateway: GatewayDep, response: Response
) -> schemas.RecordPublic:
    """One record as the caller's level sees it."""
    record, code, level = await _record_at_level(gateway, record_id, read, response, versions=False)
    return record_view(record, code, level)


@router.get("/v1/records/{record_id}/versions", response_model=schemas.RecordVersions)
async def get_versions(
    record_id: RecordId, read: ReadDep, gateway: GatewayDep, response: Response
) -> schemas.RecordVersions:
    """Every version of a record, oldest first, with who submitted each and when."""
    record, _code, level = await _record_at_level(gateway, record_id, read, response, versions=True)
    return versions_view(record, level)


@router.post("/v1/records/{record_id}/correct", response_model=schemas.RecordPublic)
async def correct_record(
    record_id: RecordId,
    body: schemas.RecordCorrect,
    caller: WriterDep,
    gateway: GatewayDep,
    response: Response,
) -> schemas.RecordPublic:
    """Adds the next version; only the record's source department may. The fields are read
    as a submission's are; the fields stored already, sent again, add no version.

    The answer is the record as stored, its fields in full (the writer's own); its `level`
    says how its subject is shown: `public` (a natural person's identity number masked)
    unless the token allows `restricted`."""
    record = await gateway.records.correct(
        rec.CorrectRecordRequest(
            caller=_caller(caller),
            record_id=record_id,
            fields=_struct(body.fields),
            reason=body.reason,
        )
    )
    await caching.drop(gateway, record.subject_id)
    view, identity_shown = await _as_written(gateway, record, caller)
    unstored(response, identity_shown)
    return view


@router.post("/v1/records/{record_id}/withdraw", response_model=schemas.RecordPublic)
async def withdraw_record(
    record_id: RecordId,
    body: schemas.RecordWithdraw,
    caller: WriterDep,
    gateway: GatewayDep,
    response: Response,
) -> schemas.RecordPublic:
    """Withdraws a record: it stays stored, with its status, who and why.

    The answer is the record as stored, its fields in full (the writer's own); its `level`
    says how its subject is shown: `public` (a natural person's identity number masked)
    unless the token allows `restricted`."""
    record = await gateway.records.withdraw(
        rec.WithdrawRecordRequest(caller=_caller(caller), record_id=record_id, reason=body.reason)
    )
    await caching.drop(gateway, record.subject_id)
    view, identity_shown = await _as_written(gateway, record, caller)
    unstored(response, identity_shown)
    return view


@router.get("/v1/subjects/{code}/records", response_model=schemas.RecordPage)
async def subject_records(
    code: Annotated[str, Path(min_length=1, max_length=32)],
    read: ReadDep,
    gateway: GatewayDep,
    category: Annotated[str, Query(max_length=100)] = "",
    item_code: Annotated[str, Query(max_length=64)] = "",
    as_of: Annotated[
        schemas.Instant | None, Query(description="RFC 3339; what was visible then")
    ] = None,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    page_token: Annotated[str, Query(max_length=200)] = "",
) -> Any:
    """A subject's records as the caller's level sees them, now or as of a past moment."""
    if as_of is not None and as_of.tzinfo is None:
        raise Problem(
            422,
            "validation_failed",
            "as_of needs a time zone offset",
            [{"field": "as_of", "message": "RFC 3339 with offset"}],
        )
    key = (
        caching.public_key(
            gateway, read, "records", code, category, item_code, str(page_size), page_token
        )
        if as_of is None
        else None
    )
    found = await caching.cached(gateway, read, key, "records")
    if isinstance(found, Hit):
        return caching.json_response(found.body)
    subject = await gateway.registry.get(code, summary=True)
    level = level_for_subject(subject, read)
    request = rec.ListSubjectRecordsRequest(
        subject_id=subject.subject_id,
        level=LEVEL_TO_PB[level],
        category=category,
        item_code=item_code,
        page_size=page_size,
        page_token=page_token,
    )
    if as_of is not None:
        request.as_of.FromDatetime(as_of.astimezone(dt.UTC))
    reply = await gateway.records.for_subject(request)
    audit(gateway, read, [subject.subject_key], "records", level)
    body = records_page(
        reply.records,
        shown_code(subject, level),
        level,
        reply.next_page_token or None,
        as_of,
    )
    if key is not None:
        fresh_until = caching.changes_by_time(publicity_ends(reply.records))
        caching.keep(gateway, key, found, subject, body, fresh_until)
    answer = caching.json_response(body)
    unstored(answer, shows_identity(subject, level))
    return answer
