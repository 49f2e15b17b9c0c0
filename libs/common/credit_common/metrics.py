"""Prometheus metrics of a backend service: its gRPC calls, the events it publishes and
the events it consumes, served on `/metrics` when the service's `metrics_port` is set.

Off (the default, port 0) nothing wraps the calls: the gRPC server has no interceptor and
no HTTP server runs; the counters of the outbox relay and the consumers are still counted
(an increment each), for nobody."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from wsgiref.simple_server import WSGIServer

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

REGISTRY = CollectorRegistry(auto_describe=True)

CALLS = Counter(
    "credit_grpc_server_calls_total",
    "gRPC calls answered, by method and status code",
    ["service", "method", "code"],
    registry=REGISTRY,
)
CALL_SECONDS = Histogram(
    "credit_grpc_server_call_seconds",
    "gRPC call latency in the server, by method",
    ["service", "method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 5.0),
    registry=REGISTRY,
)
PUBLISHED = Counter(
    "credit_outbox_published_total",
    "Outbox rows the relay published to its stream",
    ["stream"],
    registry=REGISTRY,
)
CONSUMED = Counter(
    "credit_events_consumed_total",
    "Stream messages a consumer group took, by outcome: applied, duplicate (its event id "
    "was applied before), failed (to be delivered again), parked (on the dead-letter stream)",
    ["group", "outcome"],
    registry=REGISTRY,
)


def serve(port: int, host: str) -> WSGIServer:
    """Serves /metrics on `host`:`port` from a thread of this process (`server_port` is the
    port taken; `shutdown()` stops it)."""
    server, _thread = start_http_server(port, addr=host, registry=REGISTRY)
    return server


Behaviour = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]


class CallMetrics(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Counts and times each unary and client-streaming call (what the services serve);
    the code is what the call ended with: OK, the status it aborted with, CANCELLED or
    DEADLINE_EXCEEDED when the caller went away or its deadline passed, or UNKNOWN for an
    exception that escaped."""

    def __init__(self, service: str) -> None:
        self.service = service
        # Each method's metrics, made at its first call (every call passes through here).
        self._of: dict[str, tuple[dict[grpc.StatusCode, Any], Any]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        method = str(details.method).rsplit("/", 1)[-1]
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._timed(method, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(
                self._timed(method, handler.stream_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    def _timed(self, method: str, behaviour: Behaviour) -> Behaviour:
        if method not in self._of:
            self._of[method] = ({}, CALL_SECONDS.labels(self.service, method))
        calls, seconds = self._of[method]

        def count(code: grpc.StatusCode) -> None:
            # A series for each code a method has ended with, made the first time.
            if code not in calls:
                calls[code] = CALLS.labels(self.service, method, code.name)
            calls[code].inc()

        async def timed(request: Any | AsyncIterator[Any], context: Any) -> Any:
            start = time.perf_counter()
            code = grpc.StatusCode.UNKNOWN
            try:
                answer = await behaviour(request, context)
                code = context.code() or grpc.StatusCode.OK
                return answer
            except asyncio.CancelledError:
                # The caller went away, or its deadline passed: no code was set.
                remaining = context.time_remaining()
                late = remaining is not None and remaining <= 0
                code = grpc.StatusCode.DEADLINE_EXCEEDED if late else grpc.StatusCode.CANCELLED
                raise
            except BaseException:
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            finally:
                seconds.observe(time.perf_counter() - start)
                count(_status(code))

        return timed


def _status(code: Any) -> grpc.StatusCode:
    """`context.code()` as a StatusCode: grpc.aio gives the enum, or its int value."""
    if isinstance(code, grpc.StatusCode):
        return code
    for status in grpc.StatusCode:
        if status.value[0] == code:
            return status
    return grpc.StatusCode.UNKNOWN
