"""The FastAPI application: routes, problem documents, request ids, body limits."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from credit_common import heap, telemetry
from credit_common.tasks import BackgroundTasks
from credit_gateway.bootstrap import Gateway
from credit_gateway.entrypoints import problems
from credit_gateway.entrypoints.middleware import Idempotency, InFlightLimit, Metrics
from credit_gateway.entrypoints.routes import (
    admin,
    audit,
    bulk,
    health,
    lists,
    oauth,
    objections,
    records,
    registry,
    report,
)

log = logging.getLogger(__name__)
# An id sent is echoed when it is 1-128 visible ASCII characters (a braced GUID, a path-like
# trace id): no space or control character to split a header or a log line, and no more
# than the audit log's column holds.
_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,128}$")


class RequestIdAndLimits:
    """Echoes or assigns X-Request-Id, on every answer (those to what the middlewares
    below raise too), and refuses bodies over the limit (413) whether or not
    Content-Length tells the size up front."""

    def __init__(self, app: ASGIApp, max_body: int, large_bodies: dict[str, int]) -> None:
        self.app = app
        self.max_body = max_body
        self.large_bodies = large_bodies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        sent = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = sent if _REQUEST_ID.match(sent) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = message.setdefault("headers", [])
                headers.append((b"x-request-id", request_id.encode()))
                sent = {name.lower() for name, _ in headers}
                for name, value in scope.get("state", {}).get("rate_headers", {}).items():
                    if name.lower().encode() not in sent:
                        headers.append((name.lower().encode(), value.encode()))
            await send(message)

        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b"").lower():
            # No text field anywhere may hold NUL (PostgreSQL cannot store it): refused
            # here for paths and queries, by schemas.Strict for bodies.
            await problems.problem_response(
                problems.Problem(
                    422,
                    "validation_failed",
                    "text must not contain NUL characters",
                    [{"field": "path" if "\x00" in scope["path"] else "query", "message": "NUL"}],
                )
            )(scope, receive, send_with_id)
            return
        limit = self.large_bodies.get(scope["path"], self.max_body)
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            # Refused before a byte is read: nothing stored (a bulk upload says so).
            refusal = problems.Problem(413, "payload_too_large", f"the body exceeds {limit} bytes")
            if scope["path"] in self.large_bodies:
                refusal.extra["stored_nothing"] = True
            await problems.problem_response(refusal)(scope, receive, send_with_id)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise problems.Problem(
                        413, "payload_too_large", f"the body exceeds {limit} bytes"
                    )
            return message

        try:
            await self.app(scope, limited_receive, send_with_id)
        except problems.Problem as refusal:
            # Raised in a middleware below, out of reach of the routes' exception handlers
            # (the body limit while Idempotency reads the body): answered here, with the id.
            if started:
                raise
            await problems.problem_response(refusal)(scope, receive, send_with_id)
        except Exception:
            # Starlette answers a fault outside every middleware, so without the id: the
            # same answer is sent from here, and the fault raised on to be logged there.
            if not started:
                await problems.internal_error()(scope, receive, send_with_id)
            raise


def create_app(gateway: Gateway) -> FastAPI:
    # Idempotency-Key answers still being settled after Redis failed to take them: ended
    # before the gateway closes its Redis client.
    settling = BackgroundTasks()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await gateway.start()
        heap.settle()
        yield
        await settling.drain()
        await gateway.stop()

    app = FastAPI(
        title="Public credit information platform",
        version="1.0.0",
        description="The gateway's HTTP contract (v1). Errors are application/problem+json.",
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    telemetry.instrument_fastapi(app)
    problems.install(app)
    for module in (health, oauth, admin, registry, records, bulk, lists, objections, audit, report):
        statuses = oauth.ERROR_STATUSES if module is oauth else problems.ERROR_STATUSES
        app.include_router(module.router, responses=problems.error_responses(statuses))
    oauth.document_without_validation_error(app)
    app.add_middleware(Idempotency, gateway=gateway, background=settling)
    app.add_middleware(
        InFlightLimit,
        limit=gateway.settings.max_in_flight,
        wait=gateway.settings.in_flight_wait_seconds,
    )
    app.add_middleware(
        RequestIdAndLimits,
        max_body=gateway.settings.max_body_bytes,
        large_bodies={"/v1/records/bulk": gateway.settings.bulk_max_bytes},
    )
    app.add_middleware(Metrics)
    return app
