"""Request dependencies: the gateway's parts, the caller, scopes and the query level."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request

from credit.registry.v1 import registry_pb2 as pb
from credit_common.timeutil import utcnow
from credit_gateway.adapters import metrics
from credit_gateway.bootstrap import Gateway
from credit_gateway.domain.access import PURPOSE_MAX, PURPOSE_MIN, Caller, Level
from credit_gateway.entrypoints.problems import Problem
from credit_gateway.service_layer.audit import Query as AuditQuery
from credit_gateway.service_layer.authorizations import Grant
from credit_gateway.service_layer.tokens import TokenError


async def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]

_BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="credit"'}


async def get_caller(request: Request, gateway: GatewayDep) -> Caller:
    header = request.headers.get("authorization")
    if not header:
        anonymous = Caller()
        await rate_limit_caller(request, gateway, anonymous)
        return anonymous
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        await rate_limit_caller(request, gateway, Caller())  # counted as the address's
        raise Problem(
            401,
            "invalid_token",
            "expected an Authorization: Bearer token",
            headers=_BEARER_CHALLENGE,
        )
    try:
        caller = await gateway.tokens.verify(token.strip())
    except TokenError as error:
        # A token that is no token is the address's to answer for, as no token is: it was
        # counted against no bucket, and each refusal writes an audit entry.
        await rate_limit_caller(request, gateway, Caller())
        raise Problem(401, "invalid_token", str(error), headers=_BEARER_CHALLENGE) from error
    request.state.client_id = caller.client_id
    await rate_limit_caller(request, gateway, caller)
    return caller


async def rate_limit_caller(request: Request, gateway: Gateway, caller: Caller) -> None:
    """One token from the caller's bucket (per client, or per address when anonymous)."""
    settings = gateway.settings
    if caller.anonymous:
        host = request.client.host if request.client else "unknown"
        who = f"ip:{host}"
        rate, burst = settings.anonymous_rate_limit_per_second, settings.anonymous_rate_limit_burst
    else:
        who = f"client:{caller.client_id}"
        rate = caller.rate_per_second or settings.rate_limit_per_second
        burst = caller.rate_burst or settings.rate_limit_burst
    await rate_limit(request, gateway, who, per_second=rate, burst=burst)


async def rate_limit(
    request: Request, gateway: Gateway, who: str, *, per_second: float, burst: int
) -> None:
    """One token from `who`'s bucket, or 429 rate_limited with Retry-After (no limit
    without Redis)."""
    if gateway.limiter is None:
        return
    decision = await gateway.limiter.take(who, per_second=per_second, burst=burst)
    request.scope.setdefault("state", {})["rate_headers"] = decision.headers()
    if not decision.allowed:
        metrics.RATE_LIMITED.inc()
        raise Problem(
            429,
            "rate_limited",
            f"too many requests: retry after {decision.retry_after} s",
            headers=decision.headers(),
        )


CallerDep = Annotated[Caller, Depends(get_caller)]


def require(scope: str) -> object:
    """A dependency that refuses callers without the scope (401 when anonymous)."""
    return require_any(scope)


def require_any(*scopes: str) -> object:
    """A dependency that refuses callers with none of the scopes (401 when anonymous)."""
    needed = " or ".join(scopes)

    async def check(caller: CallerDep) -> Caller:
        if caller.anonymous:
            raise Problem(
                401,
                "unauthenticated",
                f"this call needs a token with the {needed} scope",
                headers=_BEARER_CHALLENGE,
            )
        if not caller.scopes & set(scopes):
            raise Problem(403, "scope_missing", f"this call needs the {needed} scope")
        return caller

    return Depends(check)


# The path parameters of the reads about one subject: a subject's code, or one of its
# records or list entries. Only such a read is lifted to the authorized level by a grant,
# and only for the grant's own subject (`level_for_subject`, `audit`); a listing, a search
# or a batch is about many subjects and is served as if no grant were named.
_ONE_SUBJECT = frozenset({"code", "record_id", "entry_id"})


@dataclass(frozen=True)
class ReadContext:
    """The level a read is served at, and the stated purpose."""

    caller: Caller
    level: Level
    purpose: str
    request_id: str = ""
    grant: Grant | None = None
    # Whether the caller asked for the level (`?level=`) rather than taking its highest.
    asked: bool = False
    # The most the token allows on a subject not its own, when `level` may be past it (a
    # subject's own client asking for a level of a read about itself); None: `level`.
    allowed: Level | None = None

    def within_token(self) -> Level:
        """The level, held to what the token allows on a subject not its own."""
        return self.level if self.allowed is None else min(self.level, self.allowed)

    def purpose_for(self, subject_key: str) -> str:
        """The stated purpose, or else the grant's when the read is about its subject
        (a grant's purpose is its subject's word, for no one else)."""
        if self.purpose or self.grant is None or self.grant.subject_key != subject_key:
            return self.purpose
        return self.grant.purpose


async def read_context(
    request: Request,
    gateway: GatewayDep,
    caller: CallerDep,
    level: Annotated[
        str | None,
        Query(
            pattern="^(public|shared|authorized|restricted)$",
            description="serve at this level (at most the token's)",
        ),
    ] = None,
    purpose: Annotated[
        str | None, Query(description="why the caller asks (2-200 characters)")
    ] = None,
    authorization_id: Annotated[
        str | None,
        Query(
            description="a subject's grant, for the authorized level of a read about that "
            "subject (not of a listing or a search)"
        ),
    ] = None,
) -> ReadContext:
    about_one = not _ONE_SUBJECT.isdisjoint(request.path_params)
    granted = bool(authorization_id) and about_one
    allowed = caller.max_level(with_authorization=granted)
    chosen = allowed if level is None else Level.parse(level)
    if chosen == Level.AUTHORIZED and not authorization_id:
        raise Problem(
            400,
            "authorization_required",
            "the authorized level needs an authorization_id",
            [{"field": "authorization_id", "message": "a subject's grant to the caller"}],
        )
    # A subject's own client may ask for any level of a read about itself: whether the
    # read is about itself is known once its subject is (level_for_subject).
    own = about_one and caller.speaks_for_a_subject
    if chosen > (Level.RESTRICTED if own else allowed):
        why = ""
        if authorization_id and not about_one:
            why = (
                " here: an authorization opens the authorized level only for reads about "
                "its subject, not for listings or searches"
            )
        raise _level_not_allowed(allowed, why)
    grant = None
    # A grant is checked wherever it is what lets the read be served at its level (past
    # what the token allows on its own, as `?level=shared` with a grant asks), and for the
    # authorized level always.
    if caller.lifted_to(chosen) and granted and authorization_id:
        grant = await gateway.authorizations.check(authorization_id, caller.client_id)
    text = (purpose or "").strip()
    if purpose is not None and not PURPOSE_MIN <= len(text) <= PURPOSE_MAX:
        # Checked before the subject is known to need one: a purpose of another length is
        # no purpose (API.md), for a person as for whatever else a batch or listing holds.
        raise purpose_required("purpose must be 2-200 characters")
    request_id = str(
        getattr(request.state, "request_id", "")
        or request.scope.get("state", {}).get("request_id", "")
    )
    return ReadContext(
        caller,
        chosen,
        text,
        request_id,
        grant,
        asked=level is not None,
        allowed=allowed if chosen > allowed else None,
    )


ReadDep = Annotated[ReadContext, Depends(read_context)]


def foreign_grant() -> Problem:
    return Problem(403, "authorization_invalid", "the authorization was granted by another subject")


def level_for_subject(subject: pb.Subject, read: ReadContext) -> Level:
    """The level a subject's information is shown at: its own client sees everything, or
    the level it asks for (how others see it); a grant serves its own subject only; a
    natural person above the public level needs a stated purpose (a grant's, for its
    subject)."""
    if read.caller.is_self(subject.code):
        return read.level if read.asked else Level.RESTRICTED
    if read.within_token() < read.level:
        raise _level_not_allowed(read.within_token())
    if read.grant is not None and read.grant.subject_key != subject.subject_key:
        raise foreign_grant()
    if (
        subject.kind == pb.SUBJECT_KIND_NATURAL_PERSON
        and read.level > Level.PUBLIC
        and not read.purpose_for(subject.subject_key)
    ):
        raise purpose_required(
            "a query about a natural person above the public level needs a purpose"
        )
    return read.level


def _level_not_allowed(allowed: Level, why: str = "") -> Problem:
    return Problem(
        403, "level_not_allowed", f"this token may read at most at the {allowed.label} level{why}"
    )


def purpose_required(detail: str) -> Problem:
    """400 purpose_required (API.md): a query that needs a stated purpose, 2-200 characters."""
    return Problem(
        400, "purpose_required", detail, [{"field": "purpose", "message": "2-200 characters"}]
    )


def audit(
    gateway: Gateway, read: ReadContext, subject_keys: list[str], what: str, level: Level
) -> None:
    """Writes one audit entry per subject read (batched, off the request path). A read a
    grant lifted (to the authorized level, or past the token's own) is of the grant's
    subject alone, or refused."""
    if not subject_keys:
        return
    grant = read.grant
    granted = grant is not None and set(subject_keys) == {grant.subject_key}
    if grant is not None and not granted and read.caller.lifted_to(level):
        raise foreign_grant()
    if gateway.audit.full():
        raise Problem(
            503,
            "service_unavailable",
            "the query audit log cannot be written: reads are refused until it can",
            service="database",
            headers={"Retry-After": "1"},
        )
    gateway.audit.record_reads(
        AuditQuery(
            at=utcnow(),
            client_id=read.caller.client_id or "anonymous",
            department=read.caller.department,
            subject_key="",
            level=level.label,
            purpose=read.purpose_for(subject_keys[0]) if granted else read.purpose,
            what=what,
            request_id=read.request_id,
            authorization_id=grant.id if grant is not None and granted else "",
        ),
        subject_keys,
    )
