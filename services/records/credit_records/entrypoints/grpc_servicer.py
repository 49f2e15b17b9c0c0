"""The records service's gRPC servicer: parse, call the use case, answer."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from credit.records.v1 import records_pb2 as pb
from credit.records.v1 import records_pb2_grpc as pb_grpc
from credit_common.errors import FieldViolation, InvalidArgument
from credit_common.grpc_errors import map_domain_errors
from credit_common.messages import checked_moment_of, offset_of, token_for
from credit_records.entrypoints import convert
from credit_records.service_layer import commands
from credit_records.service_layer.catalog import Catalog
from credit_records.service_layer.ingest import Ingestion, RowIn
from credit_records.service_layer.records import Records

Context = Any  # grpc.aio.ServicerContext; grpc ships no type stubs


def _record_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError as error:
        raise InvalidArgument(
            "record_id is not a record id",
            "invalid_argument",
            [FieldViolation("record_id", "a UUID")],
        ) from error


@map_domain_errors
class RecordsServicer(pb_grpc.RecordsServiceServicer):
    def __init__(self, catalog: Catalog, records: Records, ingestion: Ingestion) -> None:
        self.catalog = catalog
        self.records = records
        self.ingestion = ingestion

    async def ListCatalogItems(
        self, request: pb.ListCatalogItemsRequest, context: Context
    ) -> pb.ListCatalogItemsResponse:
        return pb.ListCatalogItemsResponse(
            items=[convert.item_to_pb(i) for i in self.catalog.list()]
        )

    async def GetCatalogItem(
        self, request: pb.GetCatalogItemRequest, context: Context
    ) -> pb.CatalogItem:
        return convert.item_to_pb(await self.catalog.get(request.item_code))

    async def PutCatalogItem(
        self, request: pb.PutCatalogItemRequest, context: Context
    ) -> pb.CatalogItem:
        return convert.item_to_pb(
            await self.catalog.put(convert.item_from_pb(request.item), request.actor)
        )

    async def SubmitRecord(
        self, request: pb.SubmitRecordRequest, context: Context
    ) -> pb.SubmitRecordResponse:
        submitted = await self.records.submit(
            commands.Submit(
                caller=convert.caller(request.caller),
                subject_code=request.subject_code,
                item_code=request.item_code,
                source_ref=request.source_ref,
                decided_on=request.decided_on,
                fields=convert.fields_of(request.fields),
            )
        )
        return pb.SubmitRecordResponse(
            record=convert.record_to_pb(submitted.view, calendar_note=submitted.calendar_note),
            created=submitted.created,
        )

    async def IngestRecords(
        self, request_iterator: AsyncIterator[pb.IngestRecordsRequest], context: Context
    ) -> pb.IngestRecordsResponse:
        first = await anext(aiter(request_iterator), None)
        if first is None or not first.HasField("options"):
            raise InvalidArgument(
                "the first message must carry the options",
                "invalid_argument",
                [FieldViolation("options", "required first")],
            )
        caller = convert.caller(first.options.caller)

        async def chunks() -> AsyncIterator[list[RowIn]]:
            async for message in request_iterator:
                yield [
                    RowIn(
                        r.row,
                        r.subject_code,
                        r.item_code,
                        r.source_ref,
                        r.decided_on,
                        r.fields_json,
                        tuple(FieldViolation(e.field, e.message) for e in r.parse_errors),
                        r.text_cells,
                    )
                    for r in message.rows.rows
                ]

        result = await self.ingestion.run(caller, chunks(), atomic=first.options.atomic)
        return pb.IngestRecordsResponse(
            accepted=result.accepted,
            unchanged=result.unchanged,
            rejected_count=result.rejected_count,
            atomic=result.atomic,
            rolled_back=result.rolled_back,
            rejected=[
                pb.RejectedRow(
                    row=row, errors=[pb.RowError(field=e.field, message=e.message) for e in errors]
                )
                for row, errors in result.rejected
            ],
        )

    async def CorrectRecord(self, request: pb.CorrectRecordRequest, context: Context) -> pb.Record:
        seen = await self.records.correct(
            commands.Correct(
                convert.caller(request.caller),
                _record_id(request.record_id),
                convert.fields_of(request.fields),
                request.reason,
            )
        )
        return convert.record_to_pb(seen, with_versions=True)

    async def WithdrawRecord(
        self, request: pb.WithdrawRecordRequest, context: Context
    ) -> pb.Record:
        seen = await self.records.withdraw(
            commands.Withdraw(
                convert.caller(request.caller), _record_id(request.record_id), request.reason
            )
        )
        return convert.record_to_pb(seen, with_versions=True)

    async def GetRecord(self, request: pb.GetRecordRequest, context: Context) -> pb.Record:
        seen = await self.records.get(_record_id(request.record_id), convert.level(request.level))
        return convert.record_to_pb(seen, with_versions=request.with_versions)

    async def ListSubjectRecords(
        self, request: pb.ListSubjectRecordsRequest, context: Context
    ) -> pb.ListSubjectRecordsResponse:
        as_of = checked_moment_of(request, "as_of")
        views, nxt = await self.records.for_subject(
            commands.ListForSubject(
                subject_id=_record_id(request.subject_id),
                level=convert.level(request.level),
                category=request.category,
                item_code=request.item_code,
                as_of=as_of,
                page_size=request.page_size,
                offset=offset_of(request.page_token),
            )
        )
        reply = pb.ListSubjectRecordsResponse(next_page_token=token_for(nxt))
        add = reply.records.add
        for v in views:
            add(**convert.record_fields(v, fields_as_json=request.fields_as_json))
        return reply
