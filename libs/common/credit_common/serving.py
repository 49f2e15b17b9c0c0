"""How each gRPC service runs, written once: its server with health, its background loops,
its events, and its stop on SIGTERM. A service's `__main__` says only what is its own."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any

from credit_common.consumer import Handler
from credit_common.db import Database
from credit_common.event_loops import Events, event_loops
from credit_common.grpc_server import GrpcService, Register, database_probe, serve_until_stopped
from credit_common.pruning import Pruner, Retention
from credit_common.redis_client import make_redis
from credit_common.settings import BackendSettings
from credit_common.telemetry import (
    configure_tracing,
    instrument_grpc_client,
    instrument_grpc_server,
)

Loops = Callable[[asyncio.Event], Sequence[Awaitable[None]]]


async def serve(
    name: str,
    settings: BackendSettings,
    db: Database,
    *,
    register: Register,
    service_name: str,
    events: Events,
    handlers: Mapping[str, Handler] | None,
    on_stop: Callable[[], Awaitable[None]],
    loops: Loops | None = None,
) -> None:
    """Serves `service_name` (its servicer added by `register`) until SIGTERM or SIGINT,
    with the health of its database, its own `loops` (given the stop event), the pruning
    of its event tables and, with a Redis URL, its outbox relay and the consumers of
    `handlers` (None: it consumes nothing); then drains them
    (grpc_server.serve_until_stopped) and calls `on_stop`."""
    log = logging.getLogger(f"credit_{name}")
    service = GrpcService(
        host=settings.grpc_host,
        port=settings.grpc_port,
        register=register,
        service_names=[service_name],
        metrics_port=settings.metrics_port,
        metrics_name=name,
    )
    stop = asyncio.Event()  # set by SIGTERM at once: the loops finish what they hold, then return
    background = list(loops(stop)) if loops else []
    retention = Retention.days(settings.outbox_keep_days, settings.processed_keep_days)
    pruner = Pruner(db, events.outbox, events.processed, retention)
    background.append(pruner.run(stop, every=settings.prune_every_seconds))
    redis = None
    if settings.redis_url:
        redis = make_redis(settings.redis_url)
        background += event_loops(db, redis, events, handlers, stop)
    elif handlers is None:
        log.warning("no Redis URL: events stay in the outbox until a relay runs")
    else:
        log.warning("no Redis URL: events stay in the outbox and none are consumed")

    async def stopped() -> None:
        if redis is not None:
            await redis.aclose()
        await on_stop()

    await serve_until_stopped(
        service,
        background,
        grace=settings.shutdown_grace_seconds,
        stop=stop,
        on_ready=lambda port: log.info("%s listening on %s:%d", name, settings.grpc_host, port),
        on_stop=stopped,
        probe=database_probe(db),
    )


def run(name: str, main: Coroutine[Any, Any, None], *, calls_services: bool) -> None:
    """Runs a service's `serve` to its end, traced when tracing is configured (its calls
    to other services too, if it makes any)."""
    if configure_tracing(name):
        instrument_grpc_server()
        if calls_services:
            instrument_grpc_client()
    asyncio.run(main)
