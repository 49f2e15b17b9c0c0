"""`python -m credit_lists [serve|migrate]`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from credit.lists.v1 import lists_pb2, lists_pb2_grpc
from credit_common import cli
from credit_common.event_loops import event_loops, replay_parked
from credit_common.grpc_server import GrpcService, database_probe, serve_until_stopped
from credit_common.redis_client import make_redis
from credit_common.telemetry import (
    configure_tracing,
    instrument_grpc_client,
    instrument_grpc_server,
)
from credit_lists import bootstrap
from credit_lists.adapters import tables
from credit_lists.entrypoints.grpc_servicer import ListsServicer
from credit_lists.service_layer.retell import tell_listings
from credit_lists.settings import ListsSettings

log = logging.getLogger("credit_lists")
GROUP = "lists"
CONSUMED = ("registry", "records", "objections")


async def serve(settings: ListsSettings) -> None:
    app = bootstrap.build(settings)
    await app.start()
    servicer = ListsServicer(app.catalogs, app.entries, app.feedback)
    service = GrpcService(
        host=settings.grpc_host,
        port=settings.grpc_port,
        register=lambda server: lists_pb2_grpc.add_ListsServiceServicer_to_server(servicer, server),
        service_names=[lists_pb2.DESCRIPTOR.services_by_name["ListsService"].full_name],
        metrics_port=settings.metrics_port,
        metrics_name="lists",
    )
    background: list[Awaitable[None]] = []
    redis = None
    stop = asyncio.Event()
    background.append(app.definitions.keep_fresh(stop))
    background.append(app.clock.run(stop, every=settings.clock_every_seconds))
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
        on_ready=lambda port: log.info("lists listening on %s:%d", settings.grpc_host, port),
        on_stop=on_stop,
        probe=database_probe(app.db),
    )


async def _seed(settings: ListsSettings) -> None:
    app = bootstrap.build(settings)
    try:
        added = await app.definitions.seed_shipped()
    finally:
        await app.stop()
    log.info(
        "shipped list types and measures: %d added (%s); the others were defined already",
        len(added),
        ", ".join(added) or "none",
    )


async def _tell_listings(settings: ListsSettings) -> None:
    app = bootstrap.build(settings)
    try:
        sent = await tell_listings(app.db, app.entries.outbox)
    finally:
        await app.stop()
    log.info("entry.told sent for %d entries with basis records (the relay publishes them)", sent)


def _serve(settings: ListsSettings) -> None:
    if configure_tracing("lists"):
        instrument_grpc_server()
        instrument_grpc_client()
    asyncio.run(serve(settings))


async def _replay_parked(settings: ListsSettings) -> int:
    app = bootstrap.build(settings)
    try:
        await app.start()  # the list types the handlers read
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
        "lists",
        ListsSettings,
        migrate=bootstrap.migrate,
        serve=_serve,
        commands={
            "seed": cli.Command(
                _seed,
                "add the shipped list types and measures not defined yet (serving does it too)",
                migrate_first=True,
            ),
            "tell-listings": cli.Command(
                _tell_listings,
                "send every entry with basis records as it stands (entry.told), once after "
                "upgrading: the records service then stops showing a court record whose "
                "listing ended before entry events named their basis records",
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
