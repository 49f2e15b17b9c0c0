"""`python -m credit_registry [serve|migrate|rekey]`."""

from __future__ import annotations

import asyncio
import logging

from credit.registry.v1 import registry_pb2, registry_pb2_grpc
from credit_common import cli
from credit_common.grpc_server import GrpcService, database_probe, serve_until_stopped
from credit_common.redis_client import make_redis
from credit_common.relay import OutboxRelay
from credit_common.telemetry import configure_tracing, instrument_grpc_server
from credit_registry import bootstrap
from credit_registry.adapters import tables
from credit_registry.entrypoints.grpc_servicer import RegistryServicer
from credit_registry.service_layer.rekey import rekey
from credit_registry.settings import RegistrySettings

log = logging.getLogger("credit_registry")


async def serve(settings: RegistrySettings) -> None:
    app = bootstrap.build(settings)
    servicer = RegistryServicer(app.registry)
    service = GrpcService(
        host=settings.grpc_host,
        port=settings.grpc_port,
        register=lambda server: registry_pb2_grpc.add_RegistryServiceServicer_to_server(
            servicer, server
        ),
        service_names=[registry_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name],
        metrics_port=settings.metrics_port,
        metrics_name="registry",
    )
    background = []
    redis = None
    stop = asyncio.Event()
    if settings.redis_url:
        redis = make_redis(settings.redis_url)
        relay = OutboxRelay(app.db, redis, tables.outbox, bootstrap.PRODUCER)
        background.append(relay.run(stop))
    else:
        log.warning("no Redis URL: events stay in the outbox until a relay runs")

    async def on_stop() -> None:
        if redis is not None:
            await redis.aclose()
        await app.db.dispose()

    await serve_until_stopped(
        service,
        background,
        grace=settings.shutdown_grace_seconds,
        stop=stop,  # set by SIGTERM at once: the relay finishes its pass, then returns
        on_ready=lambda port: log.info("registry listening on %s:%d", settings.grpc_host, port),
        on_stop=on_stop,
        probe=database_probe(app.db),
    )


async def _rekey(settings: RegistrySettings) -> None:
    app = bootstrap.build(settings)
    try:
        done = await rekey(
            app.db,
            app.registry.protector,
            progress=lambda seen, moved: log.info("rekey: %d examined, %d rewritten", seen, moved),
        )
    finally:
        await app.db.dispose()
    log.info(
        "rekey done: %d identity numbers examined, %d rewritten under the current key; the "
        "old keys may now be removed from CREDIT_REGISTRY_PII_ENCRYPTION_OLD_KEYS",
        done.examined,
        done.rewritten,
    )


def _serve(settings: RegistrySettings) -> None:
    if configure_tracing("registry"):
        instrument_grpc_server()
    asyncio.run(serve(settings))


def main() -> None:
    cli.run(
        "registry",
        RegistrySettings,
        migrate=bootstrap.migrate,
        serve=_serve,
        commands={
            "rekey": cli.Command(_rekey, "re-encrypt every identity number under the current key")
        },
    )


if __name__ == "__main__":
    main()
