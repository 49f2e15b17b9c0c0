"""`python -m credit_registry [serve|migrate|rekey]`."""

from __future__ import annotations

import logging

from credit.registry.v1 import registry_pb2, registry_pb2_grpc
from credit_common import cli, serving
from credit_common.event_loops import Events
from credit_registry import bootstrap
from credit_registry.adapters import tables
from credit_registry.entrypoints.grpc_servicer import RegistryServicer
from credit_registry.service_layer.rekey import rekey
from credit_registry.settings import RegistrySettings

log = logging.getLogger("credit_registry")


async def serve(settings: RegistrySettings) -> None:
    app = bootstrap.build(settings)
    servicer = RegistryServicer(app.registry)
    await serving.serve(
        "registry",
        settings,
        app.db,
        register=lambda server: registry_pb2_grpc.add_RegistryServiceServicer_to_server(
            servicer, server
        ),
        service_name=registry_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name,
        events=Events(tables.outbox, bootstrap.PRODUCER),  # consumes nothing
        handlers=None,
        on_stop=app.db.dispose,
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
    # A row changed while a run read it is left for the next run: only a run that found
    # nothing to rewrite shows that no identity number is under an old key any more.
    log.info(
        "rekey done: %d identity numbers examined, %d rewritten under the current key; %s",
        done.examined,
        done.rewritten,
        "the old keys may now be removed from CREDIT_REGISTRY_PII_ENCRYPTION_OLD_KEYS"
        if done.rewritten == 0
        else "run it again: the old keys may be removed after a run that rewrites none",
    )


def _serve(settings: RegistrySettings) -> None:
    serving.run("registry", serve(settings), calls_services=False)


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
