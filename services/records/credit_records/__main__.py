"""`python -m credit_records [serve|migrate]`."""

from __future__ import annotations

import logging

from credit.records.v1 import records_pb2, records_pb2_grpc
from credit_common import cli, serving
from credit_common.event_loops import Events, replay_parked
from credit_records import bootstrap
from credit_records.adapters import tables
from credit_records.entrypoints.grpc_servicer import RecordsServicer
from credit_records.settings import RecordsSettings

log = logging.getLogger("credit_records")
EVENTS = Events(
    tables.outbox,
    bootstrap.PRODUCER,
    group="records",
    consume_from=("registry", "objections", "lists"),
    processed=tables.processed_events,
)


async def serve(settings: RecordsSettings) -> None:
    app = bootstrap.build(settings)
    await app.start()
    servicer = RecordsServicer(app.catalog, app.records, app.ingestion)
    await serving.serve(
        "records",
        settings,
        app.db,
        register=lambda server: records_pb2_grpc.add_RecordsServiceServicer_to_server(
            servicer, server
        ),
        service_name=records_pb2.DESCRIPTOR.services_by_name["RecordsService"].full_name,
        events=EVENTS,
        handlers=app.consumers.handlers() if settings.consume_events else None,
        loops=lambda stop: [
            app.store.keep_fresh(stop),
            app.expiry.run(stop, every=settings.expiry_every_seconds),
        ],
        on_stop=app.stop,
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
        return await replay_parked(app.db, settings.redis_url, EVENTS, app.consumers.handlers())
    finally:
        await app.stop()


def _serve(settings: RecordsSettings) -> None:
    serving.run("records", serve(settings), calls_services=True)


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
