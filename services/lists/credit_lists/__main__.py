"""`python -m credit_lists [serve|migrate]`."""

from __future__ import annotations

import logging

from credit.lists.v1 import lists_pb2, lists_pb2_grpc
from credit_common import cli, serving
from credit_common.event_loops import Events, replay_parked
from credit_lists import bootstrap
from credit_lists.adapters import tables
from credit_lists.entrypoints.grpc_servicer import ListsServicer
from credit_lists.service_layer.retell import tell_listings
from credit_lists.settings import ListsSettings

log = logging.getLogger("credit_lists")
EVENTS = Events(
    tables.outbox,
    bootstrap.PRODUCER,
    group="lists",
    consume_from=("registry", "records", "objections"),
    processed=tables.processed_events,
)


async def serve(settings: ListsSettings) -> None:
    app = bootstrap.build(settings)
    await app.start()
    servicer = ListsServicer(app.catalogs, app.entries, app.feedback)
    await serving.serve(
        "lists",
        settings,
        app.db,
        register=lambda server: lists_pb2_grpc.add_ListsServiceServicer_to_server(servicer, server),
        service_name=lists_pb2.DESCRIPTOR.services_by_name["ListsService"].full_name,
        events=EVENTS,
        handlers=app.consumers.handlers() if settings.consume_events else None,
        loops=lambda stop: [
            app.definitions.keep_fresh(stop),
            app.clock.run(stop, every=settings.clock_every_seconds),
        ],
        on_stop=app.stop,
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
    serving.run("lists", serve(settings), calls_services=True)


async def _replay_parked(settings: ListsSettings) -> int:
    app = bootstrap.build(settings)
    try:
        await app.start()  # the list types the handlers read
        return await replay_parked(app.db, settings.redis_url, EVENTS, app.consumers.handlers())
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
