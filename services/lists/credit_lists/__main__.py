"""`python -m credit_lists [serve|migrate]`."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Awaitable

from credit.lists.v1 import lists_pb2, lists_pb2_grpc
from credit_common.event_loops import event_loops
from credit_common.grpc_server import GrpcService, serve_until_stopped
from credit_common.logs import configure_logging
from credit_common.redis_client import make_redis
from credit_common.telemetry import (
    configure_tracing,
    instrument_grpc_client,
    instrument_grpc_server,
)
from credit_lists import bootstrap
from credit_lists.adapters import tables
from credit_lists.entrypoints.grpc_servicer import ListsServicer
from credit_lists.settings import ListsSettings

log = logging.getLogger("credit_lists")
GROUP = "lists"


async def serve(settings: ListsSettings) -> None:
    app = bootstrap.build(settings)
    await app.start()
    servicer = ListsServicer(app.catalogs, app.entries, app.feedback)
    service = GrpcService(
        host=settings.grpc_host,
        port=settings.grpc_port,
        register=lambda server: lists_pb2_grpc.add_ListsServiceServicer_to_server(servicer, server),
        service_names=[lists_pb2.DESCRIPTOR.services_by_name["ListsService"].full_name],
    )
    background: list[Awaitable[None]] = []
    redis = None
    stop = asyncio.Event()
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
            consume_from=("registry", "records", "objections"),
            handlers=app.consumers.handlers() if settings.consume_events else None,
            stop=stop,
        )
    else:
        log.warning("no Redis URL: events stay in the outbox and none are consumed")

    async def on_stop() -> None:
        stop.set()
        if redis is not None:
            await redis.aclose()
        await app.stop()

    await serve_until_stopped(
        service,
        background,
        grace=settings.shutdown_grace_seconds,
        on_ready=lambda port: log.info("lists listening on %s:%d", settings.grpc_host, port),
        on_stop=on_stop,
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


def main() -> None:
    parser = argparse.ArgumentParser(prog="credit_lists")
    parser.add_argument(
        "command",
        choices=["serve", "migrate", "seed"],
        nargs="?",
        default="serve",
        help="seed: add the shipped list types and measures not defined yet (serving does it too)",
    )
    parser.add_argument("--no-migrate", action="store_true", help="serve without migrating first")
    args = parser.parse_args()
    settings = ListsSettings()
    configure_logging("lists", fmt=settings.log_format, level=settings.log_level)
    if args.command == "migrate" or not args.no_migrate:
        bootstrap.migrate(settings)
        if args.command == "migrate":
            return
    if args.command == "seed":
        asyncio.run(_seed(settings))
        return
    if configure_tracing("lists"):
        instrument_grpc_server()
        instrument_grpc_client()
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
