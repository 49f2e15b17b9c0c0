"""The lists service's gRPC servicer: parse, call the use case, answer."""

from __future__ import annotations

import uuid
from typing import Any

from credit.lists.v1 import lists_pb2 as pb
from credit.lists.v1 import lists_pb2_grpc as pb_grpc
from credit_common.errors import FieldViolation, InvalidArgument
from credit_common.grpc_errors import map_domain_errors
from credit_common.messages import checked_moment_of, offset_of, token_for
from credit_lists.entrypoints import convert
from credit_lists.service_layer import commands
from credit_lists.service_layer.catalogs import Catalogs
from credit_lists.service_layer.entries import Entries
from credit_lists.service_layer.feedback import FeedbackLog

Context = Any  # grpc.aio.ServicerContext; grpc ships no type stubs


def _uuid(text: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError as error:
        raise InvalidArgument(
            f"{field} is not an id", "invalid_argument", [FieldViolation(field, "a UUID")]
        ) from error


@map_domain_errors
class ListsServicer(pb_grpc.ListsServiceServicer):
    def __init__(self, catalogs: Catalogs, entries: Entries, feedback: FeedbackLog) -> None:
        self.catalogs = catalogs
        self.entries = entries
        self.feedback = feedback

    async def ListListTypes(
        self, request: pb.ListListTypesRequest, context: Context
    ) -> pb.ListListTypesResponse:
        return pb.ListListTypesResponse(
            list_types=[convert.list_type_to_pb(t) for t in await self.catalogs.list_types()]
        )

    async def PutListType(self, request: pb.PutListTypeRequest, context: Context) -> pb.ListType:
        stored = await self.catalogs.put_list_type(
            convert.list_type_from_pb(request.list_type), request.actor
        )
        return convert.list_type_to_pb(stored)

    async def ListMeasures(
        self, request: pb.ListMeasuresRequest, context: Context
    ) -> pb.ListMeasuresResponse:
        return pb.ListMeasuresResponse(
            measures=[convert.measure_to_pb(m) for m in await self.catalogs.measures()]
        )

    async def PutMeasure(self, request: pb.PutMeasureRequest, context: Context) -> pb.Measure:
        stored = await self.catalogs.put_measure(
            convert.measure_from_pb(request.measure), request.actor
        )
        return convert.measure_to_pb(stored)

    async def ProposeEntry(self, request: pb.ProposeEntryRequest, context: Context) -> pb.Entry:
        valid_until = checked_moment_of(request, "valid_until")
        entry = await self.entries.propose(
            commands.Propose(
                caller=convert.caller(request.caller),
                subject_code=request.subject_code.strip().upper(),
                list_type=request.list_type,
                reason=request.reason,
                decision_ref=request.decision_ref,
                basis_record_ids=list(request.basis_record_ids),
                valid_until=valid_until,
            )
        )
        return convert.entry_to_pb(entry)

    async def GetEntry(self, request: pb.GetEntryRequest, context: Context) -> pb.Entry:
        return convert.entry_to_pb(await self.entries.get(_uuid(request.entry_id, "entry_id")))

    async def ListEntries(
        self, request: pb.ListEntriesRequest, context: Context
    ) -> pb.ListEntriesResponse:
        entries, nxt = await self.entries.search(
            commands.Search(
                list_type=request.list_type,
                state=request.state,
                subject_id=_uuid(request.subject_id, "subject_id") if request.subject_id else None,
                current_only=request.current_only,
                page_size=request.page_size,
                offset=offset_of(request.page_token),
            )
        )
        return pb.ListEntriesResponse(
            entries=[convert.entry_to_pb(e) for e in entries], next_page_token=token_for(nxt)
        )

    async def RemoveEntry(self, request: pb.RemoveEntryRequest, context: Context) -> pb.Entry:
        entry = await self.entries.remove(
            commands.Remove(
                convert.caller(request.caller),
                _uuid(request.entry_id, "entry_id"),
                request.reason,
                request.withdraw,
            )
        )
        return convert.entry_to_pb(entry)

    async def SubjectStatus(
        self, request: pb.SubjectStatusRequest, context: Context
    ) -> pb.SubjectStatusResponse:
        status = await self.entries.status(
            _uuid(request.subject_id, "subject_id"), include_past=request.include_past
        )
        return convert.status_to_pb(status)

    async def CheckRestrictions(
        self, request: pb.CheckRestrictionsRequest, context: Context
    ) -> pb.CheckRestrictionsResponse:
        check = await self.entries.check(list(request.subject_codes), list(request.measure_codes))
        grouped = request.grouped
        templates = {
            lt: [convert.measure_in_effect_pb(m) for m in measures]
            for lt, measures in check.measures_by_list_type.items()
        }
        # Results added in place: building each message and then copying it into the
        # reply cost twice as much for 10,000.
        reply = pb.CheckRestrictionsResponse()
        add = reply.results.add
        for c in check.results:
            if not c.found:
                add(code=c.code, error=c.error)
                continue
            result = add(
                code=c.code,
                found=True,
                error=c.error,
                canonical_code=c.canonical_code,
                subject_key=c.subject_key,
                natural_person=c.natural_person,
                restricted=c.restricted,
                rewarded=c.rewarded,
            )
            if grouped:
                for e in c.triggering:
                    result.triggering.add(entry_id=str(e.id), list_type=e.list_type)
            else:  # every measure in full, for callers that do not ask for groups
                for e in c.triggering:
                    entry_id = str(e.id)
                    for template in templates[e.list_type]:
                        measure = result.measures.add()
                        measure.CopyFrom(template)
                        measure.entry_id = entry_id
                        measure.list_type = e.list_type
        if grouped:
            for lt, measures in templates.items():
                reply.measures_by_list_type[lt].measures.extend(measures)
        return reply

    async def RecordFeedback(
        self, request: pb.RecordFeedbackRequest, context: Context
    ) -> pb.Feedback:
        feedback_id = await self.feedback.record(
            commands.Feedback(
                convert.caller(request.caller),
                _uuid(request.entry_id, "entry_id"),
                request.measure_code,
                request.applied_on,
                request.outcome,
                request.note,
            )
        )
        return pb.Feedback(
            feedback_id=str(feedback_id),
            entry_id=request.entry_id,
            measure_code=request.measure_code,
            department=request.caller.department,
            applied_on=request.applied_on,
            outcome=request.outcome,
            note=request.note,
        )

    async def FeedbackStatistics(
        self, request: pb.FeedbackStatisticsRequest, context: Context
    ) -> pb.FeedbackStatisticsResponse:
        counts = await self.feedback.statistics(
            measure_code=request.measure_code,
            department=request.department,
            month_from=request.month_from,
            month_to=request.month_to,
        )
        return pb.FeedbackStatisticsResponse(
            counts=[
                pb.FeedbackCount(
                    measure_code=c.measure_code,
                    department=c.department,
                    month=c.month,
                    count=c.count,
                )
                for c in counts
            ]
        )
