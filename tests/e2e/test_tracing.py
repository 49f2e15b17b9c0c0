"""One trace per gateway request: the HTTP span, the gRPC call on both sides, the
database queries, and the event consumer's work joined to the producer's trace."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from redis.asyncio import Redis

from credit.registry.v1 import registry_pb2, registry_pb2_grpc
from credit_common import telemetry
from credit_common.consumer import StreamConsumer
from credit_common.grpc_server import GrpcService
from credit_common.relay import OutboxRelay, stream_name
from credit_gateway import bootstrap as gateway_bootstrap
from credit_gateway.entrypoints.app import create_app
from credit_registry import bootstrap as registry_bootstrap
from credit_registry.adapters import tables
from credit_registry.entrypoints.grpc_servicer import RegistryServicer
from credit_registry.settings import RegistrySettings
from e2e.conftest import ADMIN_ID, ADMIN_SECRET, gateway_settings
from support.processes import free_port

EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module")
def traced() -> InMemorySpanExporter:
    if not telemetry.enabled():
        assert telemetry.configure_tracing("test", exporter=EXPORTER)
    return EXPORTER


@pytest.fixture
async def stack(
    traced: InMemorySpanExporter,
    registry_settings: RegistrySettings,
    make_database_url: Callable[[str], str],
    tmp_path: Path,
) -> AsyncIterator[tuple[httpx.AsyncClient, Redis, RegistrySettings]]:
    """The registry's gRPC server and the gateway, in this process so their spans meet."""
    registry_bootstrap.migrate(registry_settings)
    registry = registry_bootstrap.build(registry_settings)
    service = GrpcService(
        host="127.0.0.1",
        port=free_port(),
        register=lambda server: registry_pb2_grpc.add_RegistryServiceServicer_to_server(
            RegistryServicer(registry.registry), server
        ),
        service_names=[registry_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name],
    )
    await service.start()
    settings = gateway_settings(make_database_url("gw"), f"127.0.0.1:{service.port}", tmp_path)
    gateway_bootstrap.migrate(settings)
    gateway = gateway_bootstrap.build(settings)
    await gateway.start()
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(gateway)), base_url="http://gateway"
    )
    redis = Redis.from_url(registry_settings.redis_url)
    try:
        yield http, redis, registry_settings
    finally:
        await http.aclose()
        await gateway.stop()
        await service.stop(0)
        await registry.db.dispose()
        await redis.aclose()


async def test_a_request_is_one_trace_through_gateway_grpc_and_database(
    stack: tuple[httpx.AsyncClient, Redis, RegistrySettings], traced: InMemorySpanExporter
) -> None:
    http, redis, registry_settings = stack
    token = (
        await http.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": ADMIN_ID,
                "client_secret": ADMIN_SECRET,
            },
        )
    ).json()["access_token"]
    client = (
        await http.post(
            "/v1/admin/clients",
            headers={"Authorization": f"Bearer {token}"},
            json={"name": "t", "department": "market_regulation", "scopes": ["registry:write"]},
        )
    ).json()
    writer = (
        await http.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client["client_id"],
                "client_secret": client["client_secret"],
            },
        )
    ).json()["access_token"]
    traced.clear()
    reply = await http.post(
        "/v1/subjects",
        headers={"Authorization": f"Bearer {writer}"},
        json={
            "kind": "organization",
            "name": "追踪测试有限公司",
            "registration_authority": "9",
            "org_category": "1",
            "division_code": "310115",
        },
    )
    assert reply.status_code == 201
    trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]
    spans = traced.get_finished_spans()
    http_span = next(
        s for s in spans if s.kind == trace.SpanKind.SERVER and "/v1/subjects" in s.name
    )
    trace_id = http_span.context.trace_id
    mine = [s for s in spans if s.context.trace_id == trace_id]
    client_call = next(
        s for s in mine if s.kind == trace.SpanKind.CLIENT and "RegisterSubject" in s.name
    )
    server_call = next(
        s for s in mine if s.kind == trace.SpanKind.SERVER and "RegisterSubject" in s.name
    )
    assert (
        server_call.parent is not None and server_call.parent.span_id == client_call.context.span_id
    )
    queries = [
        s
        for s in mine
        if s.attributes and s.attributes.get("db.system") in ("postgresql", "sqlite")
    ]
    assert queries, [s.name for s in mine]
    by_id = {s.context.span_id: s for s in mine}

    def ancestors(span: object) -> set[int]:
        seen: set[int] = set()
        parent = getattr(span, "parent", None)
        while parent is not None and parent.span_id in by_id:
            seen.add(parent.span_id)
            parent = by_id[parent.span_id].parent
        return seen

    assert any(server_call.context.span_id in ancestors(q) for q in queries)

    traced.clear()
    from credit_common.db import Database

    db = Database(registry_settings.effective_database_url)
    try:
        await OutboxRelay(db, redis, tables.outbox, "registry").publish_once()
        consumer = StreamConsumer(
            db,
            redis,
            tables.processed_events,
            stream=stream_name("registry"),
            group="tracing-test",
            consumer="c",
            handlers={},
        )
        await consumer.ensure_group()
        while await consumer.consume_once(block_ms=500):  # the stream holds other tests' events too
            pass
    finally:
        await db.dispose()
    trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]
    consumed = [s for s in traced.get_finished_spans() if s.name == "consume subject.registered"]
    assert any(s.context.trace_id == trace_id for s in consumed)
    await asyncio.sleep(0)
