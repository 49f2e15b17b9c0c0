"""Metrics of every request, load shedding, and Idempotency-Key replays of creating POSTs."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from typing import Any

import sqlalchemy.exc as sa_exc
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from credit_common.db import unavailable as db_unavailable
from credit_common.tasks import BackgroundTasks
from credit_gateway.adapters import metrics
from credit_gateway.bootstrap import Gateway
from credit_gateway.domain.access import Caller
from credit_gateway.entrypoints import problems
from credit_gateway.entrypoints.deps import rate_limit_caller
from credit_gateway.service_layer.tokens import TokenError

log = logging.getLogger(__name__)

# Streamed uploads are idempotent by source_ref already; tokens are not "created" resources.
# The reads sent as POSTs (batches of codes too long for a query) create nothing, and run
# every time: a repeat replayed from Redis would reach no route, to be audited and counted
# against the rate limit.
NOT_IDEMPOTENT = {
    "/oauth/token",
    "/v1/records/bulk",
    "/v1/codes/validate",
    "/v1/restrictions/check",
}

# How long a claimed Idempotency-Key stays "pending" when its answer is never settled (the
# gateway stopped meanwhile): a repeat meanwhile is a 409 idempotency_in_progress.
PENDING_SECONDS = 300
# The waits before each new try to settle an answer Redis failed to take (about 15 s in
# all, well inside PENDING_SECONDS): a repeat then gets the replay, not 409 in progress.
SETTLE_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)


class Metrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            metrics.REQUESTS.labels(scope["method"], path, str(status["code"])).inc()
            metrics.LATENCY.labels(scope["method"], path).observe(time.perf_counter() - started)


class InFlightLimit:
    """Sheds load: with `limit` requests in progress, the next waits at most `wait`
    seconds for a place, then is answered 503 at once. Under overload the gateway
    otherwise queues requests behind work that will miss its deadlines, and serves fewer
    of them in time than it could; shed callers are told to retry (Retry-After)."""

    EXEMPT = frozenset({"/healthz", "/readyz", "/metrics"})

    def __init__(self, app: ASGIApp, limit: int, wait: float) -> None:
        self.app = app
        self.wait = wait
        self._places = asyncio.Semaphore(limit) if limit > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._places is None or scope["type"] != "http" or scope["path"] in self.EXEMPT:
            await self.app(scope, receive, send)
            return
        try:
            if self._places.locked():
                await asyncio.wait_for(self._places.acquire(), self.wait)
            else:  # a place is free: no timer, no task
                await self._places.acquire()
        except TimeoutError:
            metrics.SHED.inc()
            answer = problems.problem_response(
                problems.Problem(
                    503,
                    "service_unavailable",
                    "the gateway is at its limit of requests in progress; try again shortly",
                    service="gateway",
                    headers={"Retry-After": "1"},
                )
            )
            await answer(scope, receive, send)
            return
        metrics.IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            metrics.IN_FLIGHT.dec()
            self._places.release()


class Idempotency:
    """The same Idempotency-Key with the same request (path, query and body) replays the
    first answer; with another it is a 409. Keys are per client and kept in Redis for a
    day, and so is the first answer, less what must not rest there (`_kept`).

    "The same body" is the same JSON for a JSON body (Content-Type application/json or
    application/*+json, as the routes read it): the same value however it is written, its
    keys in any order, spaced or escaped otherwise (`_canonical_json`). Numbers are compared
    as Python reads them, as the routes do: 1 and 1.0 differ (an integer, a float), 1.0 and
    1.00 do not. A JSON body that does not parse, and every other body (an upload: another
    byte is another file), is compared byte for byte.

    A claim keeps `digest`, the hash of the bytes (path, query, body), as it always has, and
    for a JSON body `json_digest` too, the hash of its canonical form: a repeat is the same
    request when either matches. So keys claimed before `json_digest` existed still replay
    to the very same bytes, and a replica not yet comparing JSON still reads the claims."""

    def __init__(
        self, app: ASGIApp, gateway: Gateway, background: BackgroundTasks | None = None
    ) -> None:
        self.app = app
        self.gateway = gateway
        # The answers still to settle after Redis failed to take them (`_settle_later`).
        self.background = background if background is not None else BackgroundTasks()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        key = headers.get(b"idempotency-key")
        redis = self.gateway.redis
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or key is None
            or redis is None
            or scope["path"] in NOT_IDEMPOTENT
        ):
            await self.app(scope, receive, send)
            return
        if not 1 <= len(key) <= 255:
            await problems.problem_response(
                problems.Problem(
                    422,
                    "validation_failed",
                    "Idempotency-Key must be 1-255 characters",
                    [{"field": "Idempotency-Key", "message": "1-255 characters"}],
                )
            )(scope, receive, send)
            return
        try:
            caller = await self._caller(headers)
        except (sa_exc.DBAPIError, sa_exc.TimeoutError) as error:
            if not db_unavailable(error):
                raise
            # Not on to the route: were the database back by then, the request would run
            # with no slot to make a replay of it a replay.
            await problems.database_unavailable(error)(scope, receive, send)
            return
        if caller is None:  # let the route answer the authentication problem
            await self.app(scope, receive, send)
            return
        owner = caller.client_id
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        # The query is part of the request: a purpose or a level stated there changes what
        # the first answer showed and to whom it was audited.
        request = scope["path"].encode() + b"\0" + scope.get("query_string", b"") + b"\0"
        fingerprint = {"digest": hashlib.sha256(request + body).hexdigest()}
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        canonical = _canonical_json(body) if problems.is_json(content_type) else None
        if canonical is not None:
            fingerprint["json_digest"] = hashlib.sha256(request + canonical).hexdigest()
        # A replay reaches no route, so no route's scope check: it is served only to a token
        # with every scope of the one that made the first request (`_answer_stored`).
        fingerprint["scopes"] = " ".join(sorted(caller.scopes))
        slot = f"idempotency:{owner}:{hashlib.sha256(key).hexdigest()}"
        claimed_at = time.monotonic()  # no later than the claim's expiry starts
        try:
            claimed = await redis.set(
                slot,
                json.dumps({"state": "pending", **fingerprint}),
                nx=True,
                ex=PENDING_SECONDS,
            )
            stored = None if claimed else json.loads(await redis.get(slot) or b"{}")
        except (RedisConnectionError, RedisTimeoutError) as error:
            # Not on to the route, as without the database above: no slot, no replay.
            await problems.redis_unavailable(error)(scope, receive, send)
            return
        if stored is not None:
            # A repeat reaches no route: it is counted against the caller's rate limit here
            # (refused with 429 as a route would be; the limit's headers on its answer).
            try:
                await rate_limit_caller(Request(scope), self.gateway, caller)
            except problems.Problem as refused:
                await problems.problem_response(refused)(scope, receive, send)
                return
            except (RedisConnectionError, RedisTimeoutError) as error:
                await problems.redis_unavailable(error)(scope, receive, send)
                return
            await self._answer_stored(stored, fingerprint, scope, receive, send)
            return
        captured: dict[str, Any] = {"status": 500, "headers": [], "body": b""}

        async def replay_body() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = [
                    (k.decode("latin-1"), v.decode("latin-1"))
                    for k, v in message.get("headers", [])
                ]
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, replay_body, capture)
        finally:
            try:
                await self._settle(redis, slot, fingerprint, captured)
            except (RedisConnectionError, RedisTimeoutError) as error:
                # The answer is sent already, or the route's own failure is what to raise:
                # settled later instead, lest the slot stay pending until it expires (every
                # repeat meanwhile a 409 idempotency_in_progress).
                log.info("could not settle an Idempotency-Key yet, will retry: %s", error)
                self.background.start(
                    self._settle_later(redis, slot, fingerprint, captured, claimed_at)
                )

    async def _settle_later(
        self,
        redis: Redis,
        slot: str,
        fingerprint: dict[str, str],
        captured: dict[str, Any],
        claimed_at: float,
    ) -> None:
        """Tries `_settle` again after each of SETTLE_RETRY_DELAYS, while the pending claim
        is surely still the one this request made (a settle landing after it expired could
        overwrite, or delete, a claim a repeat made since); then gives up, once, with a
        warning: the slot stays pending until it expires."""
        tries, last = 1, "Redis did not answer"
        for delay in SETTLE_RETRY_DELAYS:
            if time.monotonic() + delay - claimed_at > PENDING_SECONDS - 30:
                break
            await asyncio.sleep(delay)
            tries += 1
            try:
                await self._settle(redis, slot, fingerprint, captured)
            except (RedisConnectionError, RedisTimeoutError) as error:
                last = str(error)
                continue
            except Exception:
                log.exception("could not keep the answer to an Idempotency-Key")
                return
            return
        log.warning(
            "could not keep the answer to an Idempotency-Key after %d tries (it stays "
            "pending until its claim expires, at most %d s): %s",
            tries,
            PENDING_SECONDS,
            last,
        )

    async def _settle(
        self, redis: Redis, slot: str, fingerprint: dict[str, str], captured: dict[str, Any]
    ) -> None:
        """Keeps the first answer for replays, or frees the key for another try."""
        if captured["status"] < 500 and captured["status"] not in (401, 403, 429):
            keep = [
                (k, v) for k, v in captured["headers"] if k.lower() in ("content-type", "location")
            ]
            kept = _kept(captured["headers"], captured["body"])
            answer: dict[str, Any] = {
                "state": "done",
                **fingerprint,
                "status": captured["status"],
                "headers": keep,
            }
            if kept is None:
                answer["unkept"] = True
            else:
                answer["body"] = kept.decode("utf-8", "replace")
            await redis.set(
                slot, json.dumps(answer), ex=self.gateway.settings.idempotency_ttl_seconds
            )
        else:
            await redis.delete(slot)

    async def _caller(self, headers: dict[bytes, bytes]) -> Caller | None:
        """The client of a valid token (keys are per client), or None."""
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer":
            return None
        try:
            return await self.gateway.tokens.verify(token.strip())
        except TokenError:
            return None

    async def _answer_stored(
        self,
        stored: dict[str, Any],
        fingerprint: dict[str, str],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        if not _same_request(stored, fingerprint):
            problem = problems.Problem(
                409,
                "idempotency_key_reused",
                "this Idempotency-Key was used with another request (path, query or body)",
            )
        elif not set(stored.get("scopes", "").split()) <= set(fingerprint["scopes"].split()):
            problem = problems.Problem(
                403,
                "scope_missing",
                "this Idempotency-Key's first request was made with a token holding a scope "
                "this one lacks: its answer is not replayed to it",
            )
        elif stored.get("state") != "done":
            problem = problems.Problem(
                409,
                "idempotency_in_progress",
                "a request with this Idempotency-Key is still being processed",
                headers={"Retry-After": "1"},
            )
        elif stored.get("unkept"):
            problem = problems.Problem(
                409,
                "idempotency_answer_not_kept",
                "the first answer to this Idempotency-Key is not kept for replays (it showed "
                "a natural person's identity number): read what it created instead",
                first_status=stored.get("status"),
            )
        else:
            await send(
                {
                    "type": "http.response.start",
                    "status": stored["status"],
                    "headers": [
                        (k.encode("latin-1"), v.encode("latin-1")) for k, v in stored["headers"]
                    ]
                    + [(b"idempotent-replayed", b"true")],
                }
            )
            await send({"type": "http.response.body", "body": stored["body"].encode()})
            return
        await problems.problem_response(problem)(scope, receive, send)


def _canonical_json(body: bytes) -> bytes | None:
    """One text of a JSON body's value, however it was written (keys sorted, no spaces, no
    escapes but the necessary); None when the body is not JSON. Python reads numbers as the
    routes do, integers as int and the rest as float: 1 and 1.0 stay apart, 1.0 and 1.00
    do not. A lone surrogate (JSON Python reads) is written as such, not refused."""
    try:
        value = json.loads(body)
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return text.encode("utf-8", "surrogatepass")


def _same_request(stored: dict[str, Any], fingerprint: dict[str, str]) -> bool:
    """Whether a repeat is the request that claimed the key: the same bytes, or the same
    JSON (when both were JSON bodies; claims made before JSON was compared keep no
    `json_digest`, and are compared by their bytes alone)."""
    if stored.get("digest") == fingerprint["digest"]:
        return True
    return "json_digest" in fingerprint and stored.get("json_digest") == fingerprint["json_digest"]


def _kept(headers: list[tuple[str, str]], body: bytes) -> bytes | None:
    """What of an answer may rest in Redis for its replays: a client's secret is shown once,
    so it is kept out (a replay shows `client_secret: null`); an answer that shows a natural
    person's identity number unmasked (a subject at the restricted level) or that its route
    marks `Cache-Control: no-store` is not kept at all (None): its replays are a 409."""
    if any(k.lower() == "cache-control" and "no-store" in v.lower() for k, v in headers):
        return None
    if b'"client_secret"' not in body and b'"natural_person"' not in body:
        return body  # not parsed: a batch's answer may be megabytes
    try:
        answer = json.loads(body)
    except ValueError:
        return body
    if not isinstance(answer, dict):
        return body
    if answer.get("kind") == "natural_person" and answer.get("level") == "restricted":
        return None
    if "client_secret" in answer:
        return json.dumps({**answer, "client_secret": None}, ensure_ascii=False).encode()
    return body
