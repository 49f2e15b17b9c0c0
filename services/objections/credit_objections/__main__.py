"""`python -m credit_objections [serve|migrate]`."""

from __future__ import annotations

from credit.objections.v1 import objections_pb2, objections_pb2_grpc
from credit_common import cli, serving
from credit_common.event_loops import Events, replay_parked
from credit_objections import bootstrap
from credit_objections.adapters import tables
from credit_objections.entrypoints.grpc_servicer import ObjectionsServicer
from credit_objections.settings import ObjectionsSettings

EVENTS = Events(
    tables.outbox,
    bootstrap.PRODUCER,
    group="objections",
    # The streams whose events close objections (vanished targets) or move them (merges).
    consume_from=("records", "lists", "registry"),
    processed=tables.processed_events,
)


async def serve(settings: ObjectionsSettings) -> None:
    app = bootstrap.build(settings)
    servicer = ObjectionsServicer(app.objections, app.repairs)
    await serving.serve(
        "objections",
        settings,
        app.db,
        register=lambda server: objections_pb2_grpc.add_ObjectionsServiceServicer_to_server(
            servicer, server
        ),
        service_name=objections_pb2.DESCRIPTOR.services_by_name["ObjectionsService"].full_name,
        events=EVENTS,
        handlers=app.consumers.handlers() if settings.consume_events else None,
        on_stop=app.stop,
    )


def _serve(settings: ObjectionsSettings) -> None:
    serving.run("objections", serve(settings), calls_services=True)


async def _replay_parked(settings: ObjectionsSettings) -> int:
    app = bootstrap.build(settings)
    try:
        return await replay_parked(app.db, settings.redis_url, EVENTS, app.consumers.handlers())
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
