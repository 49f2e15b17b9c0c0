"""A service's named health follows its database: a readiness check sees a service that
cannot work, while the server's own health (a liveness check) stays up."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from credit_common.db import Database
from credit_common.grpc_server import GrpcService, database_probe

NAME = "credit.test.v1.TestService"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def test_the_named_services_health_follows_the_database(tmp_path: Path) -> None:
    away = Database(f"sqlite+aiosqlite:///{tmp_path / 'no such directory' / 'x.db'}")
    here = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    current = {"db": away}

    async def probe() -> None:
        await database_probe(current["db"])()

    service = GrpcService(host="127.0.0.1", port=0, register=lambda _: None, service_names=[NAME])
    await service.start()
    stop = asyncio.Event()
    watching = asyncio.create_task(service.watch(probe, stop, every=0.05))
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{service.port}")
    stub = health_pb2_grpc.HealthStub(channel)

    async def status(name: str) -> int:
        return (await stub.Check(health_pb2.HealthCheckRequest(service=name))).status

    async def becomes(wanted: int) -> None:
        for _ in range(100):
            if await status(NAME) == wanted:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"{NAME} never became {wanted}")

    try:
        await becomes(NOT_SERVING)
        assert await status("") == SERVING  # the process is alive: no restart
        current["db"] = here
        await becomes(SERVING)
    finally:
        stop.set()
        await watching
        await channel.close()
        await service.stop(0)
        await away.dispose()
        await here.dispose()
