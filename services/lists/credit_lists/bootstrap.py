"""Builds the lists service's parts in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from credit_common.db import Database
from credit_common.directory import SubjectDirectory
from credit_common.migrate import upgrade
from credit_common.outbox import Outbox
from credit_lists.adapters import tables
from credit_lists.adapters.definitions import Definitions
from credit_lists.adapters.records_client import RecordsClient
from credit_lists.service_layer.catalogs import Catalogs
from credit_lists.service_layer.clock import Clock
from credit_lists.service_layer.consumers import ListConsumers
from credit_lists.service_layer.entries import Entries
from credit_lists.service_layer.feedback import FeedbackLog
from credit_lists.settings import ListsSettings

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"
VERSION_TABLE = "alembic_version_lists"
PRODUCER = "lists"


@dataclass
class ListsApp:
    settings: ListsSettings
    db: Database
    definitions: Definitions
    directory: SubjectDirectory
    records: RecordsClient
    catalogs: Catalogs
    entries: Entries
    feedback: FeedbackLog
    clock: Clock
    consumers: ListConsumers

    async def start(self) -> None:
        await self.definitions.seed_shipped()

    async def stop(self) -> None:
        await self.directory.close()
        await self.records.close()
        await self.db.dispose()


def migrate(settings: ListsSettings) -> None:
    upgrade(settings.effective_database_url, MIGRATIONS, VERSION_TABLE)


def build(settings: ListsSettings) -> ListsApp:
    db = Database(settings.effective_database_url, pool_size=settings.database_pool_size)
    definitions = Definitions(db)
    directory = SubjectDirectory(settings.registry_address, settings.backend_deadline_seconds)
    records = RecordsClient(settings.records_address, settings.backend_deadline_seconds)
    outbox = Outbox(tables.outbox, PRODUCER)
    entries = Entries(db, definitions, directory, records, outbox)
    return ListsApp(
        settings,
        db,
        definitions,
        directory,
        records,
        Catalogs(db, definitions),
        entries,
        FeedbackLog(db, definitions),
        Clock(db, outbox, batch=settings.clock_batch),
        ListConsumers(entries),
    )
