"""A backend client spreads its calls over every address of its target (round_robin), as
it does over the pods behind a headless Kubernetes Service."""

from __future__ import annotations

import asyncio
import collections

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from credit_common.grpc_client import Backend, BackendUnavailable


class CountingHealth(health_pb2_grpc.HealthServicer):
    def __init__(self, name: str, seen: collections.Counter[str]) -> None:
        self.name = name
        self.seen = seen

    async def Check(
        self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext
    ) -> health_pb2.HealthCheckResponse:
        self.seen[self.name] += 1
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


async def test_calls_go_to_every_replica_in_turn() -> None:
    seen: collections.Counter[str] = collections.Counter()
    servers, ports = [], []
    for name in ("a", "b", "c"):
        server = grpc.aio.server()
        health_pb2_grpc.add_HealthServicer_to_server(CountingHealth(name, seen), server)
        ports.append(server.add_insecure_port("127.0.0.1:0"))
        await server.start()
        servers.append(server)
    target = "ipv4:" + ",".join(f"127.0.0.1:{p}" for p in ports)
    backend = Backend("records", target, deadline=2.0)
    try:
        stub = backend.stub(health_pb2_grpc.HealthStub)
        for _ in range(60):
            await backend.call(stub.Check, health_pb2.HealthCheckRequest(), idempotent=True)
        assert set(seen) == {"a", "b", "c"}
        assert min(seen.values()) >= 15, seen
    finally:
        await backend.close()
        for server in servers:
            await server.stop(None)


class SlowHealth(health_pb2_grpc.HealthServicer):
    async def Check(
        self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext
    ) -> health_pb2.HealthCheckResponse:
        await asyncio.sleep(0.5)
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


async def test_a_backend_past_its_calls_in_flight_is_unavailable_for_now() -> None:
    """A server refuses calls past its bound with RESOURCE_EXHAUSTED: the caller learns
    the backend is away for now (a 503 with Retry-After at the gateway), not a 429."""
    server = grpc.aio.server(maximum_concurrent_rpcs=1)
    health_pb2_grpc.add_HealthServicer_to_server(SlowHealth(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    backend = Backend("records", f"127.0.0.1:{port}", deadline=2.0)
    try:
        stub = backend.stub(health_pb2_grpc.HealthStub)
        busy = asyncio.create_task(
            backend.call(stub.Check, health_pb2.HealthCheckRequest(), idempotent=False)
        )
        await asyncio.sleep(0.2)
        with pytest.raises(BackendUnavailable) as refused:
            await backend.call(stub.Check, health_pb2.HealthCheckRequest(), idempotent=False)
        assert (refused.value.service, refused.value.detail) == ("records", "resource_exhausted")
        await busy
    finally:
        await backend.close()
        await server.stop(None)
