"""The registry's part of the contract: subjects and code validation."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from credit.registry.v1 import registry_pb2 as pb
from credit_common.masking import mask_id_number
from credit_gateway.adapters.public_cache import LISTINGS, Hit
from credit_gateway.bootstrap import Gateway
from credit_gateway.domain.access import Caller, Level
from credit_gateway.entrypoints import caching, schemas, views
from credit_gateway.entrypoints.deps import (
    GatewayDep,
    ReadContext,
    ReadDep,
    audit,
    level_for_subject,
    purpose_required,
    require,
)
from credit_gateway.entrypoints.problems import Problem
from credit_gateway.entrypoints.record_views import shows_identity
from credit_gateway.entrypoints.responses import BatchJSON, unstored

router = APIRouter(tags=["registry"])
WriterDep = Annotated[Caller, require("registry:write")]
CodePath = Annotated[
    str, Path(min_length=1, max_length=32, description="unified, legacy or identity code")
]


@router.post("/v1/subjects", status_code=201, response_model=schemas.SubjectPublic)
async def register_subject(
    body: schemas.SubjectCreate, caller: WriterDep, gateway: GatewayDep, response: Response
) -> schemas.SubjectPublic:
    """Registers a subject: converts an existing organisation code or allocates a new one.
    A natural person is shown to its registrar in full, an answer no one may store."""
    subject = await gateway.registry.register(
        pb.RegisterSubjectRequest(
            kind=views.KIND_VALUES[body.kind],
            name=body.name,
            registration_authority=body.registration_authority,
            org_category=body.org_category,
            division_code=body.division_code,
            org_code=body.org_code or "",
            id_number=body.id_number or "",
            legal_representative=body.legal_representative or "",
            registered_on=body.registered_on.isoformat() if body.registered_on else "",
            legacy_codes=[pb.LegacyCode(type=c.type, value=c.value) for c in body.legacy_codes],
            actor=caller.client_id,
        )
    )
    level = Level.RESTRICTED if views.is_person(subject) else Level.SHARED
    unstored(response, shows_identity(subject, level))
    return views.subject_view(subject, level)


@router.get("/v1/subjects/{code}", response_model=schemas.SubjectPublic)
async def get_subject(
    code: CodePath, read: ReadDep, gateway: GatewayDep, response: Response
) -> Any:
    """A subject by unified code, legacy code or identity number; merged codes answer with
    the survivor. A natural person read above the public level is audited; an
    organisation's basic information is the same at every level and is not. An answer that
    shows a person's identity number (the restricted level) is marked no-store."""
    key = caching.public_key(gateway, read, "subject", code)
    found = await caching.cached(gateway, read, key, None)
    if isinstance(found, Hit):
        return caching.json_response(found.body)
    subject = await gateway.registry.get(code)
    level = level_for_subject(subject, read)
    if level > Level.PUBLIC and views.is_person(subject):
        audit(gateway, read, [subject.subject_key], "subject", level)
    view = views.subject_view(subject, level)
    answer = await caching.answer(gateway, key, found, subject, view)
    # A view returned as it is takes the headers of `response`; an answer cached as JSON
    # (never a natural person's, caching.keep) is a response of its own.
    unstored(answer if isinstance(answer, Response) else response, shows_identity(subject, level))
    return answer


@router.get("/v1/subjects", response_model=schemas.SubjectPage)
async def search_subjects(
    read: ReadDep,
    gateway: GatewayDep,
    response: Response,
    q: Annotated[
        str, Query(max_length=100, description="name (substring or similar) or code prefix")
    ] = "",
    division_code: Annotated[str, Query(pattern=r"^(\d{6})?$")] = "",
    kind: Literal["organization", "individual_business", "natural_person"] | None = None,
    status: Literal["active", "revoked", "deregistered", "merged"] | None = None,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    page_token: Annotated[str, Query(max_length=200)] = "",
) -> schemas.SubjectPage:
    """Searches subjects. Names that contain `q` (or codes that start with it) come first:
    shortest name first, or, when `q` is common (in more than one name in 256), in a fixed
    order that follows no field; then names merely similar to `q`, most similar first.
    Natural persons are never found by name at the public level, nor above it without a
    stated purpose; each one shown is audited. A search for natural persons alone
    (`kind=natural_person`) without a purpose is 400 purpose_required above the public level,
    and an empty page at it. A page that shows a person's identity number
    (the restricted level) is marked no-store."""
    persons_hidden = read.level == Level.PUBLIC or not read.purpose
    if kind == "natural_person" and persons_hidden:
        # Asked for persons alone: above public the caller is told to state a purpose (not
        # given pages with nobody on them); at public, persons are never searched.
        if read.level > Level.PUBLIC:
            raise purpose_required(
                "a search for natural persons above the public level needs a purpose"
            )
        return schemas.SubjectPage(items=[], next_page_token=None, level=read.level.label)
    reply = await gateway.registry.search(
        pb.SearchSubjectsRequest(
            q=q,
            division_code=division_code,
            kind=views.KIND_VALUES[kind] if kind else pb.SUBJECT_KIND_UNSPECIFIED,
            status=views.STATUS_VALUES[status] if status else pb.SUBJECT_STATUS_UNSPECIFIED,
            page_size=page_size,
            page_token=page_token,
            exclude_natural_persons_by_name=persons_hidden,
        )
    )
    shown = [s for s in reply.subjects if not (persons_hidden and views.is_person(s))]
    audit(
        gateway,
        read,
        [s.subject_key for s in shown if views.is_person(s)],
        "subject_search",
        read.level,
    )
    items = [views.subject_view(s, read.level) for s in shown]
    unstored(response, any(shows_identity(s, read.level) for s in shown))
    return schemas.SubjectPage(
        items=items, next_page_token=reply.next_page_token or None, level=read.level.label
    )


@router.patch("/v1/subjects/{code}", response_model=schemas.SubjectPublic)
async def update_subject(
    code: CodePath,
    body: schemas.SubjectUpdate,
    caller: WriterDep,
    gateway: GatewayDep,
    http: Request,
    response: Response,
) -> schemas.SubjectPublic:
    """Changes name (the old one goes to former_names), legal representative or status.
    As in a JSON merge patch, `null` removes: the legal representative, which may be
    unknown; a subject cannot be without a name or a status."""
    given = body.model_fields_set
    kept = [n for n in ("name", "status") if n in given and getattr(body, n) is None]
    if kept:
        raise Problem(
            422,
            "validation_failed",
            "a subject's name and status can be changed, not removed",
            [{"field": name, "message": "cannot be null"} for name in kept],
        )
    request = pb.UpdateSubjectRequest(code=code, reason=body.reason or "", actor=caller.client_id)
    if body.name is not None:
        request.name = body.name
    if "legal_representative" in given:
        request.legal_representative = body.legal_representative or ""
    if body.status is not None:
        request.status = views.STATUS_VALUES[body.status]
    subject = await gateway.registry.update(request)
    await caching.drop(gateway, subject.subject_id, LISTINGS)
    return _as_changed(
        gateway, caller, http, response, subject, "subject_update", body.reason or "", (code,)
    )


@router.post("/v1/subjects/{code}/merge", response_model=schemas.SubjectPublic)
async def merge_subject(
    code: CodePath,
    body: schemas.SubjectMerge,
    caller: WriterDep,
    gateway: GatewayDep,
    http: Request,
    response: Response,
) -> schemas.SubjectPublic:
    """Merges a duplicate into the surviving code."""
    duplicate = await gateway.registry.find(code)  # whose public answers the merge changes
    subject = await gateway.registry.merge(
        pb.MergeSubjectRequest(
            code=code, into=body.into, reason=body.reason, actor=caller.client_id
        )
    )
    merged = (duplicate.subject_id,) if duplicate is not None else ()
    await caching.drop(gateway, *merged, subject.subject_id, LISTINGS)
    return _as_changed(
        gateway, caller, http, response, subject, "subject_merge", body.reason, (code, body.into)
    )


def _as_changed(
    gateway: Gateway,
    caller: Caller,
    http: Request,
    response: Response,
    subject: pb.Subject,
    what: str,
    reason: str,
    sent: tuple[str, ...],
) -> schemas.SubjectPublic:
    """A subject as the registrar who changed it sees it: a natural person in full (an
    answer no one may store), and then audited as a read of that person (the change its
    purpose), so that a change that changes nothing is no unaudited way to read a person's
    registration. Identity numbers the registrar did not send (the survivor of a code it
    named, codes merged into it) are masked unless its token allows the restricted level."""
    if not views.is_person(subject):
        return views.subject_view(subject, Level.SHARED)
    purpose = (f"{what}: {reason}" if reason else what)[:200]
    request_id = str(getattr(http.state, "request_id", ""))  # set by the app
    read = ReadContext(caller, Level.RESTRICTED, purpose, request_id)
    audit(gateway, read, [subject.subject_key], what, Level.RESTRICTED)
    unstored(response, shows_identity(subject, Level.RESTRICTED))
    view = views.subject_view(subject, Level.RESTRICTED)
    if caller.max_level() >= Level.RESTRICTED:
        return view
    known = {c.upper() for c in sent}

    def shown(number: str) -> str:
        return number if number.upper() in known else mask_id_number(number)

    return view.model_copy(
        update={"code": shown(view.code), "merged_codes": [shown(c) for c in view.merged_codes]}
    )


@router.post(
    "/v1/codes/validate", response_model=schemas.ValidateResponse, response_model_exclude_none=True
)
async def validate_codes(body: schemas.ValidateRequest, read: ReadDep, gateway: GatewayDep) -> Any:
    """Validates up to 10,000 codes of any kind, and says which are registered. Whether a
    natural person is registered (`registered` of an identity number) is said only above
    the public level and with a stated `purpose`, and each person found is audited;
    otherwise `registered` is left out for identity numbers alone, and the other codes
    of the batch are answered in full."""
    reply = await gateway.registry.validate(list(body.codes))
    # Whether a person is registered is a query about that person (DOMAIN.md): not for
    # the public level, and above it only with a purpose, audited.
    show_person = read.level > Level.PUBLIC and bool(read.purpose)
    results = []
    persons: list[str] = []
    for r in reply.results:  # plain dicts: 10,000 response models would cost more than the check
        result: dict[str, Any] = {"code": r.code, "valid": r.valid, "kind": r.kind or None}
        if r.reason:
            result["reason"] = r.reason
        if r.warnings:
            result["warnings"] = list(r.warnings)
        if r.note:
            result["note"] = r.note
        if r.kind != "citizen_id":
            result["registered"] = r.registered
        elif show_person:
            result["registered"] = r.registered
            if r.registered:
                persons.append(r.code)
        results.append(result)
    if persons:
        await _audit_persons_found(gateway, read, persons)
    return BatchJSON({"results": results, "level": read.level.label})


async def _audit_persons_found(gateway: Gateway, read: ReadContext, numbers: list[str]) -> None:
    """Audits the persons whose registration a validation revealed, under their keys (the
    registry's keyed hashes: identity numbers never reach the audit log)."""
    resolved = await gateway.registry.resolve(list(dict.fromkeys(numbers)))
    keys = [
        r.subject.subject_key
        for r in resolved.results
        if r.found and r.subject.kind == pb.SUBJECT_KIND_NATURAL_PERSON
    ]
    audit(gateway, read, list(dict.fromkeys(keys)), "code_validation", read.level)
