"""The objections' part of the contract: objections, their steps, repair applications."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from google.protobuf import struct_pb2

from credit.objections.v1 import objections_pb2 as ob
from credit_common.grpc_errors import RemoteError
from credit_gateway.domain.access import Caller, Level
from credit_gateway.entrypoints import schemas
from credit_gateway.entrypoints.deps import GatewayDep, require, require_any
from credit_gateway.entrypoints.objection_views import (
    Case,
    objection_view,
    repair_view,
    subject_codes,
)
from credit_gateway.entrypoints.problems import Problem
from credit_gateway.entrypoints.responses import unstored

router = APIRouter(tags=["objections"])
FILER_SCOPES = ("objections:file", "subject:self")
READER_SCOPES = ("objections:handle", "objections:verify", *FILER_SCOPES)
FilerDep = Annotated[Caller, require_any(*FILER_SCOPES)]
HandlerDep = Annotated[Caller, require("objections:handle")]
VerifierDep = Annotated[Caller, require("objections:verify")]
ReaderDep = Annotated[Caller, require_any(*READER_SCOPES)]
CaseId = Annotated[str, Path(min_length=36, max_length=36, description="an id (UUID)")]
_REFUSALS = ("not_repairable", "too_early")
_OVERDUE_ONLY = "only overdue ones: past their current due date, or that missed one before"


def _caller(caller: Caller) -> ob.Caller:
    return ob.Caller(client_id=caller.client_id, department=caller.department)


def _target(body: schemas.TargetBody) -> ob.Target:
    return ob.Target(kind=body.kind, id=body.id)


def _evidence(items: list[schemas.EvidenceBody]) -> list[ob.Evidence]:
    return [ob.Evidence(name=e.name, sha256=e.sha256) for e in items]


async def _acting_for(gateway: GatewayDep, caller: Caller, subject_code: str | None) -> str:
    """The subject a filing is for: a service window names any (or none: the target's own);
    a subject files for itself only."""
    if "objections:file" in caller.scopes:
        return subject_code or ""
    if subject_code and subject_code != caller.subject_code:
        named = await gateway.registry.get(subject_code, summary=True)
        if not caller.is_self(named.code):
            raise Problem(403, "subject_mismatch", "a subject files only for itself")
    return caller.subject_code


@dataclass(frozen=True)
class Audience:
    """What a caller may read: handlers everything; others what their department verifies,
    what concerns their own subject, and what they filed."""

    everything: bool
    client_id: str
    department: str = ""
    subject_id: str = ""

    def sees(self, case: Case) -> bool:
        department = getattr(case, "source_department", "")
        return (
            self.everything
            or case.filed_by == self.client_id
            or bool(self.department and department == self.department)
            or bool(self.subject_id and case.subject_id == self.subject_id)
        )


async def _audience(gateway: GatewayDep, caller: Caller) -> Audience:
    if "objections:handle" in caller.scopes:
        return Audience(True, caller.client_id)
    subject_id = ""
    if caller.speaks_for_a_subject:
        subject_id = (await gateway.registry.get(caller.subject_code, summary=True)).subject_id
    department = caller.department if "objections:verify" in caller.scopes else ""
    return Audience(False, caller.client_id, department, subject_id)


async def _filters(
    gateway: GatewayDep, caller: Caller, subject_code: str | None
) -> tuple[str, str, str]:
    """(subject_id, source_department, filed_by) a listing is narrowed to."""
    audience = await _audience(gateway, caller)
    asked = (
        (await gateway.registry.get(subject_code, summary=True)).subject_id if subject_code else ""
    )
    if audience.everything:
        return asked, "", ""
    if audience.department:
        return asked, audience.department, ""
    if audience.subject_id:
        if asked and asked != audience.subject_id:
            raise Problem(403, "subject_mismatch", "a subject sees only its own objections")
        return audience.subject_id, "", ""
    return asked, "", caller.client_id


async def _objection(gateway: GatewayDep, caller: Caller, o: ob.Objection) -> Any:
    return objection_view(o, *(await subject_codes(gateway, caller, [o])).of(o.subject_key))


async def _repair(gateway: GatewayDep, caller: Caller, r: ob.Repair) -> Any:
    return repair_view(r, *(await subject_codes(gateway, caller, [r])).of(r.subject_key))


async def _written(
    gateway: GatewayDep, caller: Caller, case: Case, response: Response
) -> tuple[str, Level]:
    """The code to show for the subject of a case just written (`subject_codes`), and the
    level it is shown at; an answer that shows a person's identity number is kept by no
    one (`unstored`)."""
    shown = await subject_codes(gateway, caller, [case], written=True)
    unstored(response, shown.identity_shown)
    return shown.of(case.subject_key)


@router.post("/v1/objections", status_code=201, response_model=schemas.ObjectionPublic)
async def file_objection(
    body: schemas.ObjectionCreate,
    caller: FilerDep,
    gateway: GatewayDep,
    response: Response,
) -> Any:
    """Files an objection; from now on the target shows `under_objection: true`."""
    objection = await gateway.objections.file(
        ob.FileObjectionRequest(
            caller=_caller(caller),
            target=_target(body.target),
            reason=body.reason,
            evidence=_evidence(body.evidence),
            subject_code=await _acting_for(gateway, caller, body.subject_code),
        )
    )
    return objection_view(objection, *await _written(gateway, caller, objection, response))


@router.post("/v1/objections/{objection_id}/accept", response_model=schemas.ObjectionPublic)
async def accept_objection(
    objection_id: CaseId,
    body: schemas.ObjectionStep,
    caller: HandlerDep,
    gateway: GatewayDep,
    response: Response,
) -> Any:
    """submitted → verifying: the target's source department is asked to verify."""
    request = ob.AcceptObjectionRequest(
        caller=_caller(caller), objection_id=objection_id, reason=body.reason
    )
    objection = await gateway.objections.accept(request)
    return objection_view(objection, *await _written(gateway, caller, objection, response))


@router.post("/v1/objections/{objection_id}/reject", response_model=schemas.ObjectionPublic)
async def reject_objection(
    objection_id: CaseId,
    body: schemas.ObjectionStep,
    caller: HandlerDep,
    gateway: GatewayDep,
    response: Response,
) -> Any:
    """submitted → rejected: not admissible; the mark is cleared."""
    request = ob.RejectObjectionRequest(
        caller=_caller(caller), objection_id=objection_id, reason=body.reason
    )
    objection = await gateway.objections.reject(request)
    return objection_view(objection, *await _written(gateway, caller, objection, response))


@router.post("/v1/objections/{objection_id}/verify", response_model=schemas.ObjectionPublic)
async def verify_objection(
    objection_id: CaseId,
    body: schemas.ObjectionVerify,
    caller: VerifierDep,
    gateway: GatewayDep,
    response: Response,
) -> Any:
    """verifying → verified: the source department's finding (that department only)."""
    request = ob.VerifyObjectionRequest(
        caller=_caller(caller), objection_id=objection_id, finding=body.finding, note=body.note
    )
    if body.corrected_fields is not None:
        fields = struct_pb2.Struct()
        fields.update(body.corrected_fields)
        request.corrected_fields.CopyFrom(fields)
    objection = await gateway.objections.verify(request)
    return objection_view(objection, *await _written(gateway, caller, objection, response))


@router.post("/v1/objections/{objection_id}/decide", response_model=schemas.ObjectionPublic)
async def decide_objection(
    objection_id: CaseId,
    body: schemas.ObjectionDecide,
    caller: HandlerDep,
    gateway: GatewayDep,
    response: Response,
) -> Any:
    """verified → upheld (the target is corrected or withdrawn) or dismissed."""
    request = ob.DecideObjectionRequest(
        caller=_caller(caller),
        objection_id=objection_id,
        decision=body.decision,
        reason=body.reason,
    )
    objection = await gateway.objections.decide(request)
    return objection_view(objection, *await _written(gateway, caller, objection, response))


@router.post("/v1/objections/{objection_id}/withdraw", response_model=schemas.ObjectionPublic)
async def withdraw_objection(
    objection_id: CaseId,
    caller: FilerDep,
    gateway: GatewayDep,
    response: Response,
    body: schemas.ObjectionWithdraw | None = None,
) -> Any:
    """The filer withdraws its objection before a decision; the mark is cleared."""
    request = ob.WithdrawObjectionRequest(
        caller=_caller(caller), objection_id=objection_id, reason=body.reason if body else ""
    )
    objection = await gateway.objections.withdraw(request)
    return objection_view(objection, *await _written(gateway, caller, objection, response))


@router.get("/v1/objections", response_model=schemas.ObjectionPage)
async def list_objections(
    caller: ReaderDep,
    gateway: GatewayDep,
    state: Annotated[
        str | None,
        Query(
            pattern="^(open|submitted|verifying|verified|upheld|dismissed|rejected|withdrawn)$",
            description="one state, or open (not yet decided)",
        ),
    ] = None,
    subject_code: Annotated[str | None, Query(max_length=32)] = None,
    overdue: Annotated[bool, Query(description=_OVERDUE_ONLY)] = False,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    page_token: Annotated[str, Query(max_length=200)] = "",
) -> Any:
    """Open objections soonest due first (the handler's view), then closed ones, newest first.
    Handlers see all; a department what it verifies; a subject its own; a window its filings."""
    subject_id, department, filed_by = await _filters(gateway, caller, subject_code)
    reply = await gateway.objections.search(
        ob.ListObjectionsRequest(
            state=state or "",
            subject_id=subject_id,
            overdue_only=overdue,
            source_department=department,
            filed_by=filed_by,
            page_size=page_size,
            page_token=page_token,
        )
    )
    codes = await subject_codes(gateway, caller, list(reply.objections))
    return schemas.ObjectionPage(
        items=[objection_view(o, *codes.of(o.subject_key)) for o in reply.objections],
        next_page_token=reply.next_page_token or None,
        level=codes.lowest(reply.objections).label,
    )


@router.get("/v1/objections/{objection_id}", response_model=schemas.ObjectionPublic)
async def get_objection(objection_id: CaseId, caller: ReaderDep, gateway: GatewayDep) -> Any:
    """One objection with every step of its life."""
    objection = await gateway.objections.get(objection_id)
    if not (await _audience(gateway, caller)).sees(objection):
        raise Problem(404, "not_found", "no such objection")
    return await _objection(gateway, caller, objection)


@router.post(
    "/v1/repairs",
    status_code=201,
    response_model=schemas.RepairPublic,
    responses={
        422: {
            "description": "too_early, with `possible_from` (the day after the minimum "
            "publicity); not_repairable when a repair will never be possible (never published, "
            "the item or list type allows none, a kind that blocks it before the maximum, or "
            "publication ended), the reason in `detail`"
        }
    },
)
async def apply_repair(
    body: schemas.RepairCreate, caller: FilerDep, gateway: GatewayDep, response: Response
) -> Any:
    """Applies to repair a record or list entry; refused at once with the reason and, where
    there is one, the first date it becomes possible (`possible_from`)."""
    request = ob.ApplyRepairRequest(
        caller=_caller(caller),
        target=_target(body.target),
        grounds=body.grounds,
        evidence=_evidence(body.evidence),
        commitment=body.commitment,
        subject_code=await _acting_for(gateway, caller, body.subject_code),
    )
    try:
        repair = await gateway.objections.apply_repair(request)
    except RemoteError as error:
        if error.reason not in _REFUSALS:
            raise
        extra: dict[str, Any] = {}
        if "possible_from" in error.metadata:
            extra["possible_from"] = error.metadata["possible_from"]
        raise Problem(
            422,
            error.reason,
            error.message,
            [{"field": v.field, "message": v.message} for v in error.violations],
            **extra,
        ) from error
    return repair_view(repair, *await _written(gateway, caller, repair, response))


@router.post("/v1/repairs/{repair_id}/decide", response_model=schemas.RepairPublic)
async def decide_repair(
    repair_id: CaseId,
    body: schemas.RepairDecide,
    caller: HandlerDep,
    gateway: GatewayDep,
    response: Response,
) -> Any:
    """Approves (the record leaves the public level; an entry is removed as repaired) or
    rejects, with the reason kept. An approval is checked again against the target as it
    stands: one corrected since the application so that it is no longer repairable, or
    not yet, is 422 `not_repairable` or `too_early` (with `possible_from`), and the
    application stays open."""
    request = ob.DecideRepairRequest(
        caller=_caller(caller), repair_id=repair_id, decision=body.decision, reason=body.reason
    )
    repair = await gateway.objections.decide_repair(request)
    return repair_view(repair, *await _written(gateway, caller, repair, response))


@router.get("/v1/repairs", response_model=schemas.RepairPage)
async def list_repairs(
    caller: ReaderDep,
    gateway: GatewayDep,
    state: Annotated[
        str | None,
        Query(pattern="^(open|submitted|approved|rejected|withdrawn)$"),
    ] = None,
    subject_code: Annotated[str | None, Query(max_length=32)] = None,
    overdue: Annotated[bool, Query(description=_OVERDUE_ONLY)] = False,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    page_token: Annotated[str, Query(max_length=200)] = "",
) -> Any:
    """Open applications soonest due first, then decided ones; visible as objections are."""
    subject_id, department, filed_by = await _filters(gateway, caller, subject_code)
    if department:  # departments verify objections; repair applications are the centre's
        filed_by = caller.client_id
    reply = await gateway.objections.search_repairs(
        ob.ListRepairsRequest(
            state=state or "",
            subject_id=subject_id,
            overdue_only=overdue,
            filed_by=filed_by,
            page_size=page_size,
            page_token=page_token,
        )
    )
    codes = await subject_codes(gateway, caller, list(reply.repairs))
    return schemas.RepairPage(
        items=[repair_view(r, *codes.of(r.subject_key)) for r in reply.repairs],
        next_page_token=reply.next_page_token or None,
        level=codes.lowest(reply.repairs).label,
    )


@router.get("/v1/repairs/{repair_id}", response_model=schemas.RepairPublic)
async def get_repair(repair_id: CaseId, caller: ReaderDep, gateway: GatewayDep) -> Any:
    """One repair application with its decision."""
    repair = await gateway.objections.get_repair(repair_id)
    if not (await _audience(gateway, caller)).sees(repair):
        raise Problem(404, "not_found", "no such repair application")
    return await _repair(gateway, caller, repair)
