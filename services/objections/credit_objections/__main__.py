"""`python -m credit_objections [serve|migrate]`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from credit.objections.v1 import objections_pb2, objections_pb2_grpc
from credit_common import cli
from credit_common.event_loops import event_loops, replay_parked
from credit_common.grpc_server import GrpcService, database_probe, serve_until_stopped
from credit_common.redis_client import make_redis
from credit_common.telemetry import (
    configure_tracing,
    instrument_grpc_client,
    instrument_grpc_server,
)
from credit_objections import bootstrap
from credit_objections.adapters import tables
from credit_objections.entrypoints.grpc_servicer import ObjectionsServicer
from credit_objections.settings import ObjectionsSettings

log = logging.getLogger("credit_objections")
GROUP = "objections"
# The streams whose events close objections (vanished targets) or move them (merges).
CONSUMED = ("records", "lists", "registry")


async def serve(settings: ObjectionsSettings) -> None:
    app = bootstrap.build(settings)
    servicer = ObjectionsServicer(app.objections, app.repairs)
    service = GrpcService(
        host=settings.grpc_host,
        port=settings.grpc_port,
        register=lambda server: objections_pb2_grpc.add_ObjectionsServiceServicer_to_server(
            servicer, server
        ),
        service_names=[objections_pb2.DESCRIPTOR.services_by_name["ObjectionsService"].full_name],
        metrics_port=settings.metrics_port,
        metrics_name="objections",
    )
    background: list[Awaitable[None]] = []
    redis = None
    stop = asyncio.Event()
    if settings.redis_url:
        redis = make_redis(settings.redis_url)
        background += event_loops(
            app.db,
            redis,
            outbox=tables.outbox,
            processed=tables.processed_events,
            producer=bootstrap.PRODUCER,
            group=GROUP,
            consume_from=CONSUMED,
            handlers=app.consumers.handlers() if settings.consume_events else None,
            stop=stop,
        )
    else:
        log.warning("no Redis URL: events stay in the outbox and none are consumed")

    async def on_stop() -> None:
        if redis is not None:
            await redis.aclose()
        await app.stop()

    await serve_until_stopped(
        service,
        background,
        grace=settings.shutdown_grace_seconds,
        stop=stop,  # set by SIGTERM at once: the loops finish what they hold, then return
        on_ready=lambda port: log.info("objections listening on %s:%d", settings.grpc_host, port),
        on_stop=on_stop,
        probe=database_probe(app.db),
    )


def _serve(settings: ObjectionsSettings) -> None:
    if configure_tracing("objections"):
        instrument_grpc_server()
        instrument_grpc_client()
    asyncio.run(serve(settings))


async def _replay_parked(settings: ObjectionsSettings) -> int:
    app = bootstrap.build(settings)
    try:
        return await replay_parked(
            app.db,
            settings.redis_url,
            processed=tables.processed_events,
            group=GROUP,
            consume_from=CONSUMED,
            handlers=app.consumers.handlers(),
        )
    finally:
        await app.stop()


def main() -> None:
    cli.run(
        "objections",
        ObjectionsSettings,
        migrate=bootstrap.migrate,
        serve=_serve,
        commands={
            "replay-parked": cli.Command(
                _replay_parked,
                "apply again the events this service parked (<stream>.dead) once their cause is mended, without a restart; exit 1 if some still fail",
                migrate_first=True,
            )
        },
    )


if __name__ == "__main__":
    main()
