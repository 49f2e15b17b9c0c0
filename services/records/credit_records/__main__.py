"""`python -m credit_records [serve|migrate]`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from credit.records.v1 import records_pb2, records_pb2_grpc
from credit_common import cli
from credit_common.event_loops import event_loops, replay_parked
from credit_common.grpc_server import GrpcService, database_probe, serve_until_stopped
from credit_common.redis_client import make_redis
from credit_common.telemetry import (
    configure_tracing,
    instrument_grpc_client,
    instrument_grpc_server,
)
from credit_records import bootstrap
from credit_records.adapters import tables
from credit_records.entrypoints.grpc_servicer import RecordsServicer
from credit_records.settings import RecordsSettings

log = logging.getLogger("credit_records")
GROUP = "records"
CONSUMED = ("registry", "objections", "lists")


async def serve(settings: RecordsSettings) -> None:
    app = bootstrap.build(settings)
    await app.start()
    servicer = RecordsServicer(app.catalog, app.records, app.ingestion)
    service = GrpcService(
        host=settings.grpc_host,
        port=settings.grpc_port,
        register=lambda server: records_pb2_grpc.add_RecordsServiceServicer_to_server(
            servicer, server
        ),
        service_names=[records_pb2.DESCRIPTOR.services_by_name["RecordsService"].full_name],
        metrics_port=settings.metrics_port,
        metrics_name="records",
    )
    background: list[Awaitable[None]] = []
    redis = None
    stop = asyncio.Event()
    background.append(app.store.keep_fresh(stop))
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
        on_ready=lambda port: log.info("records listening on %s:%d", settings.grpc_host, port),
        on_stop=on_stop,
        probe=database_probe(app.db),
    )


async def _seed(settings: RecordsSettings) -> None:
    app = bootstrap.build(settings)
    try:
        added = await app.store.seed_shipped()
    finally:
        await app.stop()
    log.info(
        "shipped catalog items: %d added (%s); the others were defined already",
        len(added),
        ", ".join(added) or "none",
    )


async def _replay_parked(settings: RecordsSettings) -> int:
    app = bootstrap.build(settings)
    try:
        await app.start()  # the catalog the handlers read
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


def _serve(settings: RecordsSettings) -> None:
    if configure_tracing("records"):
        instrument_grpc_server()
        instrument_grpc_client()
    asyncio.run(serve(settings))


def main() -> None:
    cli.run(
        "records",
        RecordsSettings,
        migrate=bootstrap.migrate,
        serve=_serve,
        commands={
            "seed": cli.Command(
                _seed,
                "add the shipped catalog items not defined yet (serving does it too)",
                migrate_first=True,
            ),
            "replay-parked": cli.Command(
                _replay_parked,
                "apply again the events this service parked (<stream>.dead) once their cause is mended, without a restart; exit 1 if some still fail",
                migrate_first=True,
            ),
        },
    )


if __name__ == "__main__":
    main()
