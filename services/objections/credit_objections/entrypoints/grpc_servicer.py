"""The objections service's gRPC servicer: parse, call the use case, answer."""

from __future__ import annotations

from typing import Any

from credit.objections.v1 import objections_pb2 as pb
from credit.objections.v1 import objections_pb2_grpc as pb_grpc
from credit_common.grpc_errors import map_domain_errors
from credit_common.timeutil import utcnow
from credit_objections.entrypoints import convert
from credit_objections.service_layer import commands
from credit_objections.service_layer.objections import Objections
from credit_objections.service_layer.repairs import Repairs

Context = Any  # grpc.aio.ServicerContext; grpc ships no type stubs


def _subject_id(text: str) -> Any:
    return convert.case_id(text, "subject_id") if text else None


@map_domain_errors
class ObjectionsServicer(pb_grpc.ObjectionsServiceServicer):
    def __init__(self, objections: Objections, repairs: Repairs) -> None:
        self.objections = objections
        self.repairs = repairs

    async def FileObjection(
        self, request: pb.FileObjectionRequest, context: Context
    ) -> pb.Objection:
        objection = await self.objections.file(
            commands.File(
                caller=convert.caller(request.caller),
                target=convert.target(request.target),
                reason=request.reason,
                evidence=convert.evidence(request.evidence),
                subject_code=request.subject_code,
            )
        )
        return convert.objection_to_pb(objection, utcnow())

    async def AcceptObjection(
        self, request: pb.AcceptObjectionRequest, context: Context
    ) -> pb.Objection:
        objection = await self.objections.accept(self._step(request))
        return convert.objection_to_pb(objection, utcnow())

    async def RejectObjection(
        self, request: pb.RejectObjectionRequest, context: Context
    ) -> pb.Objection:
        objection = await self.objections.reject(self._step(request))
        return convert.objection_to_pb(objection, utcnow())

    async def WithdrawObjection(
        self, request: pb.WithdrawObjectionRequest, context: Context
    ) -> pb.Objection:
        objection = await self.objections.withdraw(self._step(request))
        return convert.objection_to_pb(objection, utcnow())

    @staticmethod
    def _step(
        request: pb.AcceptObjectionRequest
        | pb.RejectObjectionRequest
        | pb.WithdrawObjectionRequest,
    ) -> commands.Step:
        return commands.Step(
            convert.caller(request.caller),
            convert.case_id(request.objection_id, "objection_id"),
            request.reason,
        )

    async def VerifyObjection(
        self, request: pb.VerifyObjectionRequest, context: Context
    ) -> pb.Objection:
        corrected = (
            convert.fields_of(request.corrected_fields)
            if request.HasField("corrected_fields")
            else None
        )
        objection = await self.objections.verify(
            commands.Verify(
                convert.caller(request.caller),
                convert.case_id(request.objection_id, "objection_id"),
                request.finding,
                corrected,
                request.note,
            )
        )
        return convert.objection_to_pb(objection, utcnow())

    async def DecideObjection(
        self, request: pb.DecideObjectionRequest, context: Context
    ) -> pb.Objection:
        objection = await self.objections.decide(
            commands.Decide(
                convert.caller(request.caller),
                convert.case_id(request.objection_id, "objection_id"),
                request.decision,
                request.reason,
            )
        )
        return convert.objection_to_pb(objection, utcnow())

    async def GetObjection(self, request: pb.GetObjectionRequest, context: Context) -> pb.Objection:
        objection = await self.objections.get(convert.case_id(request.objection_id, "objection_id"))
        return convert.objection_to_pb(objection, utcnow())

    async def ListObjections(
        self, request: pb.ListObjectionsRequest, context: Context
    ) -> pb.ListObjectionsResponse:
        after, offset = convert.page_start(request.page_token)
        found, nxt = await self.objections.list(
            commands.Listing(
                state=request.state,
                subject_id=_subject_id(request.subject_id),
                overdue_only=request.overdue_only,
                source_department=request.source_department,
                filed_by=request.filed_by,
                page_size=request.page_size,
                after=after,
                offset=offset,
            )
        )
        now = utcnow()
        return pb.ListObjectionsResponse(
            objections=[convert.objection_to_pb(o, now) for o in found],
            next_page_token=convert.page_token(nxt),
        )

    async def ApplyRepair(self, request: pb.ApplyRepairRequest, context: Context) -> pb.Repair:
        repair = await self.repairs.apply(
            commands.Apply(
                caller=convert.caller(request.caller),
                target=convert.target(request.target),
                grounds=request.grounds,
                evidence=convert.evidence(request.evidence),
                commitment=request.commitment,
                subject_code=request.subject_code,
            )
        )
        return convert.repair_to_pb(repair, utcnow())

    async def DecideRepair(self, request: pb.DecideRepairRequest, context: Context) -> pb.Repair:
        repair = await self.repairs.decide(
            commands.DecideRepair(
                convert.caller(request.caller),
                convert.case_id(request.repair_id, "repair_id"),
                request.decision,
                request.reason,
            )
        )
        return convert.repair_to_pb(repair, utcnow())

    async def GetRepair(self, request: pb.GetRepairRequest, context: Context) -> pb.Repair:
        repair = await self.repairs.get(convert.case_id(request.repair_id, "repair_id"))
        return convert.repair_to_pb(repair, utcnow())

    async def ListRepairs(
        self, request: pb.ListRepairsRequest, context: Context
    ) -> pb.ListRepairsResponse:
        after, offset = convert.page_start(request.page_token)
        found, nxt = await self.repairs.list(
            commands.Listing(
                state=request.state,
                subject_id=_subject_id(request.subject_id),
                overdue_only=request.overdue_only,
                filed_by=request.filed_by,
                page_size=request.page_size,
                after=after,
                offset=offset,
            )
        )
        now = utcnow()
        return pb.ListRepairsResponse(
            repairs=[convert.repair_to_pb(r, now) for r in found],
            next_page_token=convert.page_token(nxt),
        )
