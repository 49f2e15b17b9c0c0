"""A gRPC service's Prometheus /metrics: each call counted by method and status code and
timed, unary and client-streaming alike; nothing served, and no call wrapped, when its
metrics port is not set."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from credit_common import metrics
from credit_common.grpc_server import GrpcService
from support.processes import free_port

SUM = "/credit.test.v1.Numbers/Sum"


async def _sum(requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> bytes:
    total = 0
    async for request in requests:
        total += int(request)
    if total < 0:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "a negative sum")
    return str(total).encode()


async def _slow(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    await asyncio.sleep(5)
    return request


def _register(server: grpc.aio.Server) -> None:
    handlers = {
        "Sum": grpc.stream_unary_rpc_method_handler(_sum),
        "Slow": grpc.unary_unary_rpc_method_handler(_slow),
    }
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("credit.test.v1.Numbers", handlers),)
    )


async def _calls(channel: grpc.aio.Channel) -> None:
    """Two health checks (one OK, one NOT_FOUND), two sums (one OK, one aborted) and a
    slow call past its deadline."""
    health = health_pb2_grpc.HealthStub(channel)
    await health.Check(health_pb2.HealthCheckRequest(service=""))
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    summing = channel.stream_unary(SUM)
    assert await summing(iter([b"1", b"2"])) == b"3"
    with pytest.raises(grpc.aio.AioRpcError) as negative:
        await summing(iter([b"-5"]))
    assert negative.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as late:
        await channel.unary_unary("/credit.test.v1.Numbers/Slow")(b"x", timeout=0.2)
    assert late.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    await asyncio.sleep(0.3)  # the server's side of it ends


def _samples(text: str, name: str, service: str) -> dict[tuple[str, ...], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels.get("service") == service:
                labels = sample.labels
                found[tuple(labels[k] for k in ("method", "code") if k in labels)] = sample.value
    return found


async def test_calls_are_counted_by_method_and_code_and_timed() -> None:
    service = GrpcService(
        host="127.0.0.1",
        port=0,
        register=_register,
        service_names=[],
        metrics_port=free_port(),
        metrics_name="numbers",
    )
    await service.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{service.port}")
    try:
        await _calls(channel)
        async with httpx.AsyncClient() as http:
            reply = await http.get(f"http://127.0.0.1:{service.metrics_port}/metrics")
        assert reply.status_code == 200
        calls = _samples(reply.text, "credit_grpc_server_calls_total", "numbers")
        assert calls == {  # a series for each code a method ended with, no other
            ("Check", "OK"): 1.0,
            ("Check", "NOT_FOUND"): 1.0,
            ("Sum", "OK"): 1.0,
            ("Sum", "INVALID_ARGUMENT"): 1.0,
            ("Slow", "DEADLINE_EXCEEDED"): 1.0,
        }
        timed = _samples(reply.text, "credit_grpc_server_call_seconds_count", "numbers")
        assert timed == {("Check",): 2.0, ("Sum",): 2.0, ("Slow",): 1.0}
    finally:
        await channel.close()
        await service.stop(0)
    # Stopped with the service: the port is free again.
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{service.metrics_port}/metrics")


async def test_without_a_metrics_port_no_call_is_wrapped_and_nothing_is_served() -> None:
    service = GrpcService(
        host="127.0.0.1", port=0, register=_register, service_names=[], metrics_name="quiet"
    )
    await service.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{service.port}")
    try:
        await _calls(channel)
        assert (
            metrics.REGISTRY.get_sample_value(
                "credit_grpc_server_calls_total",
                {"service": "quiet", "method": "Sum", "code": "OK"},
            )
            is None
        )
        assert service.metrics_port == 0
    finally:
        await channel.close()
        await service.stop(0)
