"""What a caller is told when a service's database is out of reach: UNAVAILABLE (try
again), not INTERNAL; a fault of the statement is INTERNAL (no retry helps); a domain error
keeps its own status."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa
from grpc_health.v1 import health_pb2, health_pb2_grpc

from credit_common.db import Database
from credit_common.errors import NotFound
from credit_common.grpc_client import Backend, BackendUnavailable
from credit_common.grpc_errors import RemoteError, map_domain_errors
from support.processes import free_port


@map_domain_errors
class DatabaseHealth(health_pb2_grpc.HealthServicer):
    def __init__(self, db: Database, working: Database) -> None:
        self.db = db
        self.working = working

    async def Check(
        self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext
    ) -> health_pb2.HealthCheckResponse:
        if request.service == "missing":
            raise NotFound("no such service", "not_found")
        if request.service == "fault":  # SQLite: an OperationalError, yet no outage
            async with self.working.read() as conn:
                await conn.execute(sa.text("SELECT * FROM no_such_table"))
        async with self.db.read() as conn:
            await conn.scalar(sa.select(1))
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


async def test_a_database_out_of_reach_is_unavailable_to_the_caller(tmp_path: Path) -> None:
    # A real connection attempt to a port nobody listens on.
    db = Database(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing")
    working = Database(f"sqlite+aiosqlite:///{tmp_path / 'working.db'}")
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(DatabaseHealth(db, working), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    backend = Backend("records", f"127.0.0.1:{port}", deadline=2.0)
    try:
        stub = backend.stub(health_pb2_grpc.HealthStub)
        with pytest.raises(BackendUnavailable) as unavailable:
            await backend.call(stub.Check, health_pb2.HealthCheckRequest(), idempotent=True)
        assert unavailable.value.service == "records" and unavailable.value.detail == "unavailable"
        with pytest.raises(RemoteError) as domain:
            await backend.call(
                stub.Check, health_pb2.HealthCheckRequest(service="missing"), idempotent=True
            )
        assert domain.value.code == grpc.StatusCode.NOT_FOUND
        with pytest.raises(RemoteError) as fault:
            await backend.call(
                stub.Check, health_pb2.HealthCheckRequest(service="fault"), idempotent=True
            )
        assert fault.value.code == grpc.StatusCode.INTERNAL
    finally:
        await backend.close()
        await server.stop(None)
        await db.dispose()
        await working.dispose()
