"""The owners of objections' targets, over gRPC: records (a record and its catalog item)
and lists (an entry). Their answers become TargetFacts."""

from __future__ import annotations

import datetime as dt
import functools
import json
import time
import uuid
from typing import Any

import grpc
from google.protobuf import json_format

from credit.lists.v1 import lists_pb2 as lst
from credit.lists.v1 import lists_pb2_grpc as lst_grpc
from credit.records.v1 import records_pb2 as rec
from credit.records.v1 import records_pb2_grpc as rec_grpc
from credit_common.errors import DomainError, FieldViolation, InvalidArgument
from credit_common.field_schema import FieldValidator
from credit_common.grpc_client import Backend, BackendUnavailable
from credit_common.grpc_errors import RemoteError
from credit_common.ingest.fieldmap import RowProblem, map_fields
from credit_common.record_rules import severity_violations
from credit_common.timeutil import china_date
from credit_objections.domain.cases import TargetRef
from credit_objections.domain.targets import TargetFacts

_NOT_THERE = {grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT}


class Unavailable(DomainError):
    """A service this one needs did not answer: the caller may try again."""

    grpc_code = grpc.StatusCode.UNAVAILABLE


def _date(text: str) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


class RecordsClient(Backend):
    def __init__(self, address: str, deadline: float, *, item_ttl_seconds: float = 30.0) -> None:
        super().__init__("records", address, deadline)
        self.item_ttl = item_ttl_seconds
        self._items: dict[str, tuple[float, rec.CatalogItem]] = {}

    @property
    def _stub(self) -> rec_grpc.RecordsServiceStub:
        return self.stub(rec_grpc.RecordsServiceStub)

    async def record(self, record_id: str) -> rec.Record:
        request = rec.GetRecordRequest(record_id=record_id, level=rec.LEVEL_RESTRICTED)
        return await self.call(self._stub.GetRecord, request, idempotent=True)

    async def item(self, item_code: str) -> rec.CatalogItem:
        cached = self._items.get(item_code)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        item: rec.CatalogItem = await self.call(
            self._stub.GetCatalogItem,
            rec.GetCatalogItemRequest(item_code=item_code),
            idempotent=True,
        )
        self._items[item_code] = (time.monotonic() + self.item_ttl, item)
        return item


class ListsClient(Backend):
    def __init__(self, address: str, deadline: float) -> None:
        super().__init__("lists", address, deadline)

    async def entry(self, entry_id: str) -> lst.Entry:
        stub = self.stub(lst_grpc.ListsServiceStub)
        return await self.call(
            stub.GetEntry, lst.GetEntryRequest(entry_id=entry_id), idempotent=True
        )


class Targets:
    """Finds what the owner says about a target, now."""

    def __init__(self, records: RecordsClient, lists: ListsClient) -> None:
        self.records = records
        self.lists = lists

    async def facts(self, target: TargetRef) -> TargetFacts:
        try:
            if target.kind == "record":
                return await self._record(target)
            return await self._entry(target)
        except BackendUnavailable as error:
            raise Unavailable(
                str(error), "service_unavailable", metadata={"service": error.service}
            ) from error
        except RemoteError as error:
            if error.code in _NOT_THERE:
                noun = "record" if target.kind == "record" else "list entry"
                raise InvalidArgument(
                    f"no {noun} {target.id}",
                    "unknown_target",
                    [FieldViolation("target.id", f"no such {noun}")],
                ) from error
            raise

    async def _record(self, target: TargetRef) -> TargetFacts:
        record = await self.records.record(target.id)
        item = await self.records.item(record.item_code)
        fields = json_format.MessageToDict(record.fields)
        kinds = fields.get("penalty_kinds") or []
        blocking = [k for k in item.non_repairable_kinds if isinstance(kinds, list) and k in kinds]
        return TargetFacts(
            ref=target,
            subject_id=uuid.UUID(record.subject_id),
            subject_key=record.subject_code,
            source_department=record.department,
            status=record.status,
            repaired=record.repaired,
            never_public=record.never_public,
            publicity_until=_date(record.publicity_until),
            kind_repairable=item.repairable,
            blocking_kinds=tuple(blocking),
            repair_possible_from=_date(record.repair_possible_from),
            item_code=record.item_code,
            fields=fields,
            fields_schema=json.loads(item.fields_schema or "{}"),
        )

    async def _entry(self, target: TargetRef) -> TargetFacts:
        entry = await self.lists.entry(target.id)
        possible = (
            china_date(entry.repair_possible_from.ToDatetime(tzinfo=dt.UTC))
            if entry.HasField("repair_possible_from")
            else None
        )
        return TargetFacts(
            ref=target,
            subject_id=uuid.UUID(entry.subject_id),
            subject_key=entry.subject_key,
            source_department=entry.department,
            status=entry.state,
            kind_repairable=entry.repairable,
            repair_possible_from=possible,
        )

    async def close(self) -> None:
        await self.records.close()
        await self.lists.close()


@functools.lru_cache(maxsize=64)
def _validator(schema_json: str) -> FieldValidator:
    """An item schema's validator, compiled once (about 8 ms) for every verification."""
    return FieldValidator(json.loads(schema_json))


def correction_problems(facts: TargetFacts, corrected: dict[str, Any]) -> list[FieldViolation]:
    """What the record's item schema says against its fields with the corrections merged
    over them, read and checked as the records service will read and check them (as a bulk
    line's fields: names, stripped text, empty values left out; formats, real dates and the
    severity it keeps included): a correction it would refuse is refused at verification."""
    if facts.ref.kind != "record" or not facts.fields_schema:
        return []
    try:
        merged = map_fields(facts.item_code, {**facts.fields, **corrected})
    except RowProblem as problem:
        return [FieldViolation("corrected_fields", text) for text in problem.problems]
    return [
        FieldViolation("corrected_fields" if name == "fields" else f"corrected_fields.{name}", text)
        for name, text in _validator(json.dumps(facts.fields_schema, sort_keys=True)).errors(merged)
    ] + severity_violations(merged, "corrected_fields")
