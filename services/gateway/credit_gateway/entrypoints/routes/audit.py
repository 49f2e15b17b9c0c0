"""Who queried whom: subjects' authorizations, their "who queried me", the auditors' search."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from credit.registry.v1 import registry_pb2 as pb
from credit_common.messages import MAX_OFFSET
from credit_common.timeutil import utcnow
from credit_gateway.domain.access import Caller, Level
from credit_gateway.entrypoints import schemas
from credit_gateway.entrypoints.deps import CallerDep, GatewayDep, require, require_any
from credit_gateway.entrypoints.problems import Problem
from credit_gateway.entrypoints.record_views import shown_code
from credit_gateway.entrypoints.responses import unstored
from credit_gateway.service_layer.audit import Logged
from credit_gateway.service_layer.authorizations import Grant

router = APIRouter(tags=["audit"])
CodePath = Annotated[str, Path(min_length=1, max_length=32)]
AuditorDep = Annotated[Caller, require("audit:read")]
# Checked before the registry is asked: a refusal that differed for a registered code and
# an unknown one would tell any token whether an identity number is on file.
SelfOrAuditorDep = Annotated[Caller, require_any("subject:self", "audit:read")]


def _grant_view(grant: Grant) -> schemas.AuthorizationPublic:
    return schemas.AuthorizationPublic(
        authorization_id=grant.id,
        grantee_client_id=grant.grantee_client_id,
        purpose=grant.purpose,
        expires_at=grant.expires_at,
        revoked_at=grant.revoked_at,
        active=grant.active(utcnow()),
    )


def _entry_view(logged: Logged, code: str | None) -> schemas.AuditEntry:
    q = logged.query
    return schemas.AuditEntry(
        seq=logged.seq,
        at=q.at,
        client_id=q.client_id,
        department=q.department,
        subject_code=code,
        level=q.level,
        purpose=q.purpose,
        what=q.what,
        request_id=q.request_id,
        authorization_id=q.authorization_id or None,
    )


def _page_start(token: str) -> tuple[int | None, int]:
    """Where a page token says the log resumes: before an entry ("s:<seq>", the tokens
    `_token` gives), or at an offset (the tokens of the versions before, still honoured)."""
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode() if token else "0"
        before, value = (int(text[2:]), 0) if text.startswith("s:") else (None, int(text))
    except ValueError:
        before, value = None, -1
    if not 0 <= value <= MAX_OFFSET or (before is not None and not 0 < before <= MAX_OFFSET):
        raise Problem(
            422,
            "invalid_page_token",
            "invalid page_token",
            [{"field": "page_token", "message": "not a token this API issued"}],
        )
    return before, value


def _token(found: list[Logged], page_size: int) -> str | None:
    """The next page's token: it begins before the last entry shown."""
    if len(found) <= page_size:
        return None
    return base64.urlsafe_b64encode(f"s:{found[page_size - 1].seq}".encode()).decode()


async def _own_subject(code: str, caller: Caller, gateway: GatewayDep) -> pb.Subject:
    """The subject, if the caller is it (subject:self)."""
    if "subject:self" not in caller.scopes:
        raise Problem(403, "scope_missing", "this call needs the subject:self scope")
    refusal = Problem(403, "not_your_subject", "a subject may only act for itself")
    subject = await _looked_up(code, gateway, refusal)
    if not caller.is_self(subject.code):
        raise refusal
    return subject


async def _looked_up(
    code: str, gateway: GatewayDep, refusal: Problem, *, merged_keys: bool = False
) -> pb.Subject:
    """The subject of `code`; an unknown code gets the refusal another subject's code gets,
    so that a subject's client cannot learn whether a code (an identity number) is
    registered."""
    subject = await gateway.registry.find(code, merged_keys=merged_keys)
    if subject is None:
        raise refusal
    return subject


@router.post(
    "/v1/subjects/{code}/authorizations",
    status_code=201,
    response_model=schemas.AuthorizationPublic,
)
async def authorize(
    code: CodePath, body: schemas.AuthorizationCreate, caller: CallerDep, gateway: GatewayDep
) -> schemas.AuthorizationPublic:
    """A subject grants a client its authorized level, for a purpose, until a date."""
    subject = await _own_subject(code, caller, gateway)
    if body.expires_at.tzinfo is None:
        raise Problem(
            422,
            "validation_failed",
            "expires_at needs a time zone offset",
            [{"field": "expires_at", "message": "RFC 3339 with offset"}],
        )
    grant = await gateway.authorizations.grant(
        subject_key=subject.subject_key,
        grantee=body.grantee_client_id,
        purpose=body.purpose,
        expires_at=body.expires_at,
        created_by=caller.client_id,
    )
    return _grant_view(grant)


@router.delete(
    "/v1/subjects/{code}/authorizations/{authorization_id}",
    response_model=schemas.AuthorizationPublic,
)
async def revoke(
    code: CodePath,
    authorization_id: Annotated[str, Path(max_length=36)],
    caller: CallerDep,
    gateway: GatewayDep,
) -> schemas.AuthorizationPublic:
    """Revokes a grant: reads naming it stop working at once."""
    subject = await _own_subject(code, caller, gateway)
    return _grant_view(await gateway.authorizations.revoke(authorization_id, subject.subject_key))


@router.get("/v1/subjects/{code}/queries", response_model=schemas.AuditPage)
async def who_queried(
    code: CodePath,
    caller: SelfOrAuditorDep,
    gateway: GatewayDep,
    response: Response,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    page_token: Annotated[str, Query(max_length=50)] = "",
) -> schemas.AuditPage:
    """Who queried this subject, when, at what level and why (the subject itself or an
    auditor). A natural person's identity number is shown to the person and to an auditor
    who may read the restricted level (no-store), masked to other auditors."""
    if "audit:read" in caller.scopes:
        subject = await gateway.registry.get(code, summary=True, merged_keys=True)
    else:
        refusal = Problem(
            403, "not_your_subject", "only the subject itself or an auditor may see who queried it"
        )
        subject = await _looked_up(code, gateway, refusal, merged_keys=True)
        if not caller.is_self(subject.code):
            raise refusal
    person = subject.kind == pb.SUBJECT_KIND_NATURAL_PERSON
    in_full = not person or caller.is_self(subject.code) or caller.max_level() >= Level.RESTRICTED
    shown = code.upper() if in_full else shown_code(subject, Level.SHARED)
    unstored(response, person and in_full)
    before, offset = _page_start(page_token)
    found = await gateway.audit.search(
        subject_keys=[subject.subject_key, *subject.merged_keys],
        before=before,
        offset=offset,
        limit=page_size + 1,
    )
    return schemas.AuditPage(
        items=[_entry_view(e, shown) for e in found[:page_size]],
        next_page_token=_token(found, page_size),
    )


@router.get("/v1/audit", response_model=schemas.AuditPage)
async def search_audit(
    _: AuditorDep,
    gateway: GatewayDep,
    client_id: Annotated[str, Query(max_length=64)] = "",
    subject_code: Annotated[str, Query(max_length=32)] = "",
    start: Annotated[schemas.Instant | None, Query(alias="from")] = None,
    end: Annotated[schemas.Instant | None, Query(alias="to")] = None,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    page_token: Annotated[str, Query(max_length=50)] = "",
) -> schemas.AuditPage:
    """The query audit log, newest first."""
    subject_keys: list[str] = []
    if subject_code:
        subject = await gateway.registry.get(subject_code, summary=True, merged_keys=True)
        subject_keys = [subject.subject_key, *subject.merged_keys]
    before, offset = _page_start(page_token)
    found = await gateway.audit.search(
        client_id=client_id,
        subject_keys=subject_keys,
        start=start,
        end=end,
        before=before,
        offset=offset,
        limit=page_size + 1,
    )
    keys = sorted({e.query.subject_key for e in found[:page_size]})
    codes: dict[str, str | None] = {}
    if keys:
        for r in (await gateway.registry.resolve(keys)).results:
            person = r.subject.kind == pb.SUBJECT_KIND_NATURAL_PERSON
            codes[r.requested_code] = None if (not r.found or person) else r.subject.code
    return schemas.AuditPage(
        items=[_entry_view(e, codes.get(e.query.subject_key)) for e in found[:page_size]],
        next_page_token=_token(found, page_size),
    )
