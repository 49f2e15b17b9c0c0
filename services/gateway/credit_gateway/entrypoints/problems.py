"""One place that turns every failure into an RFC 9457 problem document."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import grpc
import sqlalchemy.exc as sa_exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from credit_common.db import unavailable as db_unavailable
from credit_common.errors import DomainError
from credit_common.grpc_errors import RemoteError
from credit_common.timeutil import utcnow
from credit_gateway.adapters import metrics
from credit_gateway.adapters.backends import BackendUnavailable

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"

_GRPC_TO_HTTP = {
    grpc.StatusCode.INVALID_ARGUMENT: 422,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.OUT_OF_RANGE: 422,
}

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


# The problem document (RFC 9457) as the OpenAPI document describes every error answer.
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "stable machine-readable reason"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def is_json(content_type: str) -> bool:
    """Whether the routes read a body of this Content-Type as JSON, as FastAPI does:
    application/json or application/*+json, whatever its parameters; none is not JSON."""
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


ERROR_STATUSES = (400, 401, 403, 404, 409, 413, 415, 422, 429, 503)


def error_responses(statuses: Sequence[int] = ERROR_STATUSES) -> dict[int | str, dict[str, Any]]:
    """The error answers the routes may give (every route, unless `statuses` says which),
    as problem documents."""
    return {
        status: {"description": _TITLES[status], "content": {PROBLEM: {"schema": PROBLEM_SCHEMA}}}
        for status in statuses
    }


class Problem(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra


def problem_response(problem: Problem) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://credit.example/problems/{problem.code}",
        "title": _TITLES.get(problem.status, "Error"),
        "status": problem.status,
        "detail": problem.detail,
        "code": problem.code,
    }
    if problem.errors is not None:
        body["errors"] = problem.errors
    body.update(problem.extra)
    return JSONResponse(
        body, status_code=problem.status, media_type=PROBLEM, headers=problem.headers
    )


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


# The field a refusal is about, for the reasons the services give without naming one.
_FIELD_OF_REASON = {"reason_required": "reason"}
# The statuses whose problem documents carry `errors` (API.md, Conventions).
_INPUT_STATUSES = (400, 422)


def _input_errors(
    request: Request, status: int, code: str, detail: str, errors: list[dict[str, str]] | None
) -> list[dict[str, str]] | None:
    """`errors` of a problem about the request's input (400, 422), never empty: those given,
    or else one naming the field the reason is about, or the body of a request that has one
    (its input), or the request as a whole. Other statuses' are left as they are."""
    if status not in _INPUT_STATUSES:
        return errors
    if errors:
        return errors
    field = _FIELD_OF_REASON.get(code)
    if field is None:
        field = "body" if request.method in ("POST", "PUT", "PATCH") else "request"
    return [{"field": field, "message": detail}]


def _malformed_json(message: str) -> Problem:
    return Problem(
        400, "malformed_json", "the body is not valid JSON", [{"field": "body", "message": message}]
    )


def _methods_of(request: Request) -> list[str]:
    """The methods the OpenAPI document gives this request's path."""
    app = request.app
    paths: list[tuple[re.Pattern[str], list[str]]] | None = getattr(app.state, "path_methods", None)
    if paths is None:
        paths = [
            (
                re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"),
                [m.upper() for m in operations],
            )
            for template, operations in app.openapi().get("paths", {}).items()
        ]
        app.state.path_methods = paths
    # A path without parameters (/v1/records/bulk) wins over a template it also fits
    # (/v1/records/{record_id}), as in the routing.
    exact = [allowed for pattern, allowed in paths if pattern.pattern == _literal(request)]
    if exact:
        return sorted(exact[0])
    methods: set[str] = set()
    for pattern, allowed in paths:
        if pattern.match(request.url.path):
            methods.update(allowed)
    return sorted(methods)


def _literal(request: Request) -> str:
    return "^" + re.escape(request.url.path) + "$"


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        _audit_refusal(request, exc.status, exc.code)
        exc.errors = _input_errors(request, exc.status, exc.code, exc.detail, exc.errors)
        return problem_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return problem_response(_malformed_json("malformed JSON"))
        media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        sent = media or request.headers.get("content-length", "0") != "0"
        if sent and not is_json(media) and any(e["loc"][:1] == ("body",) for e in errors):
            # FastAPI reads a body of another type, or of none named, as no JSON at all:
            # the body's type is the fault, not its content ("JSON in and out", API.md).
            return problem_response(
                Problem(
                    415,
                    "unsupported_media_type",
                    f"the body must be sent as application/json, not {media or 'untyped'}",
                    [{"field": "Content-Type", "message": "application/json"}],
                )
            )
        detail = "the request does not match the contract"
        listed = [{"field": _field(tuple(e["loc"])), "message": str(e["msg"])} for e in errors]
        return problem_response(
            Problem(
                422,
                "validation_failed",
                detail,
                _input_errors(request, 422, "validation_failed", detail, listed),
            )
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, Problem):
            # FastAPI answers whatever stops it reading the body 400 "There was an error
            # parsing the body": a refusal raised by reading it (the body limit that no
            # Content-Length told up front, app.py) is the answer instead.
            return problem_response(exc.__cause__)
        if isinstance(exc.__cause__, UnicodeDecodeError):
            # A JSON body that is not UTF-8 text (RFC 8259), which FastAPI answers 400
            # "There was an error parsing the body" (a UnicodeDecodeError, not a JSON one).
            return problem_response(_malformed_json("not UTF-8 text"))
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Every method of the path (RFC 9110), not only those of the first route
            # Starlette matched: each method is its own route here.
            headers["Allow"] = ", ".join(_methods_of(request))
        detail = str(exc.detail)
        # Starlette's and FastAPI's own 400s are about the body: one they could not parse
        # (a form, a multipart upload) or read.
        errors = (
            [{"field": "body", "message": detail}] if exc.status_code in _INPUT_STATUSES else None
        )
        return problem_response(Problem(exc.status_code, code, detail, errors, headers=headers))

    @app.exception_handler(BackendUnavailable)
    async def _unavailable(_: Request, exc: BackendUnavailable) -> JSONResponse:
        return _service_unavailable(exc.service, f"the {exc.service} service")

    @app.exception_handler(RedisConnectionError)
    @app.exception_handler(RedisTimeoutError)
    async def _redis_away(_: Request, exc: Exception) -> JSONResponse:
        return redis_unavailable(exc)

    @app.exception_handler(sa_exc.DBAPIError)
    @app.exception_handler(sa_exc.TimeoutError)
    async def _database(_: Request, exc: Exception) -> JSONResponse:
        """The gateway's own database (clients, signing keys, grants, the audit) refused a
        connection, had none free in time, lost it, or rolled the transaction back: the
        caller may try again, as the services tell the gateway (gRPC UNAVAILABLE) for
        theirs. Any other database error is a fault: a 500, logged in full."""
        if not db_unavailable(exc):
            return _internal_error(exc)
        return database_unavailable(exc)

    @app.exception_handler(RemoteError)
    async def _remote(request: Request, exc: RemoteError) -> JSONResponse:
        status = _GRPC_TO_HTTP.get(exc.code, 500)
        if status == 500:
            log.error("backend error %s: %s", exc.code, exc.message)
            return problem_response(Problem(500, "internal_error", "a backend failed"))
        errors = [{"field": v.field, "message": v.message} for v in exc.violations]
        code = exc.reason or exc.code.name.lower()
        _audit_refusal(request, status, code)
        return problem_response(
            Problem(
                status,
                code,
                exc.message,
                _input_errors(request, status, code, exc.message, errors)
                if status in _INPUT_STATUSES
                else None,
            )
        )

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        status = _GRPC_TO_HTTP.get(exc.grpc_code, 400)
        errors = [{"field": v.field, "message": v.message} for v in exc.violations]
        # A refusal of the gateway's own use cases (a grant revoked, expired or not the
        # caller's) is audited like one raised as a Problem or by a backend.
        _audit_refusal(request, status, exc.reason)
        return problem_response(
            Problem(
                status,
                exc.reason,
                exc.message,
                _input_errors(request, status, exc.reason, exc.message, errors)
                if status in _INPUT_STATUSES
                else None,
            )
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return _internal_error(exc)


def _internal_error(exc: Exception) -> JSONResponse:
    log.error("unexpected error", exc_info=exc)
    return internal_error()


def internal_error() -> JSONResponse:
    """The answer to a fault: nothing of it is shown (it is logged where it is handled)."""
    return problem_response(Problem(500, "internal_error", "an unexpected error occurred"))


def database_unavailable(exc: Exception) -> JSONResponse:
    """The answer while the gateway's own database cannot be used (credit_common.db's
    `unavailable`), logged and counted."""
    log.warning("the gateway's database is unavailable: %s", exc)
    return _service_unavailable("database", "the gateway's database")


def redis_unavailable(exc: Exception) -> JSONResponse:
    """The answer while Redis (rate limits, Idempotency-Key replays) is unreachable, or
    every connection to it busy past the wait: the caller may try again, as with a backend."""
    log.warning("redis unavailable: %s", exc)
    return _service_unavailable("redis", "the redis service")


def _service_unavailable(service: str, what: str) -> JSONResponse:
    """503 service_unavailable naming `service` (a backend, Redis, the gateway's own
    database), counted: the caller may try again in a second."""
    metrics.BACKEND_ERRORS.labels(service, "unavailable").inc()
    return problem_response(
        Problem(
            503,
            "service_unavailable",
            f"{what} did not answer in time",
            service=service,
            headers={"Retry-After": "1"},
        )
    )


def _audit_refusal(request: Request, status: int, code: str) -> None:
    """Refused attempts (401, 403) are written to the audit log too, without the subject:
    the path may hold an identity number, so only the route's template is kept."""
    if status not in (401, 403):
        return
    gateway = getattr(request.app.state, "gateway", None)
    if gateway is None:
        return
    from credit_gateway.service_layer.audit import Query

    route = getattr(request.scope.get("route"), "path", "unmatched")
    gateway.audit.record(
        [
            Query(
                at=utcnow(),
                client_id=str(getattr(request.state, "client_id", "") or "anonymous"),
                department="",
                subject_key="",
                level="",
                purpose="",
                what=f"refused {status} {code} {request.method} {route}"[:64],
                request_id=str(request.scope.get("state", {}).get("request_id", ""))[:128],
            )
        ]
    )
