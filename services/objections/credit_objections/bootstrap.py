"""Builds the objections service's parts in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from credit_common.db import Database
from credit_common.directory import SubjectDirectory
from credit_common.migrate import upgrade
from credit_common.outbox import Outbox
from credit_common.workdays import DEFAULT_CALENDAR
from credit_objections.adapters import tables
from credit_objections.adapters.targets import ListsClient, RecordsClient, Targets
from credit_objections.domain.clock import Deadlines, Schedule
from credit_objections.service_layer.consumers import ObjectionConsumers
from credit_objections.service_layer.objections import Objections
from credit_objections.service_layer.repairs import Repairs
from credit_objections.settings import ObjectionsSettings

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"
VERSION_TABLE = "alembic_version_objections"
PRODUCER = "objections"


@dataclass
class ObjectionsApp:
    settings: ObjectionsSettings
    db: Database
    targets: Targets
    directory: SubjectDirectory
    objections: Objections
    repairs: Repairs
    consumers: ObjectionConsumers

    async def stop(self) -> None:
        await self.targets.close()
        await self.directory.close()
        await self.db.dispose()


def migrate(settings: ObjectionsSettings) -> None:
    upgrade(settings.effective_database_url, MIGRATIONS, VERSION_TABLE)


def schedule(settings: ObjectionsSettings) -> Schedule:
    return Schedule(
        DEFAULT_CALENDAR,
        Deadlines(
            accept=settings.accept_workdays,
            verify=settings.verify_workdays,
            decide=settings.decide_workdays,
            repair_decide=settings.repair_decide_workdays,
        ),
    )


def build(settings: ObjectionsSettings) -> ObjectionsApp:
    db = Database(settings.effective_database_url, pool_size=settings.database_pool_size)
    deadline = settings.backend_deadline_seconds
    targets = Targets(
        RecordsClient(settings.records_address, deadline),
        ListsClient(settings.lists_address, deadline),
    )
    directory = SubjectDirectory(settings.registry_address, deadline)
    outbox = Outbox(tables.outbox, PRODUCER)
    clock = schedule(settings)
    objections = Objections(db, targets, directory, outbox, clock)
    repairs = Repairs(db, targets, directory, outbox, clock)
    return ObjectionsApp(
        settings,
        db,
        targets,
        directory,
        objections,
        repairs,
        ObjectionConsumers(objections, repairs),
    )
