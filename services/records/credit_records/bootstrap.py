"""Builds the records service's parts in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from credit_common.db import Database
from credit_common.directory import SubjectDirectory
from credit_common.migrate import upgrade
from credit_common.outbox import Outbox
from credit_common.workdays import DEFAULT_CALENDAR
from credit_records.adapters import tables
from credit_records.adapters.catalog_store import CatalogStore
from credit_records.service_layer.catalog import Catalog
from credit_records.service_layer.consumers import RecordConsumers
from credit_records.service_layer.expiry import Expiry
from credit_records.service_layer.ingest import Ingestion
from credit_records.service_layer.records import Records
from credit_records.settings import RecordsSettings

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"
VERSION_TABLE = "alembic_version_records"
PRODUCER = "records"


@dataclass
class RecordsApp:
    settings: RecordsSettings
    db: Database
    store: CatalogStore
    directory: SubjectDirectory
    catalog: Catalog
    records: Records
    ingestion: Ingestion
    consumers: RecordConsumers
    expiry: Expiry

    async def start(self) -> None:
        await self.store.seed_shipped()

    async def stop(self) -> None:
        await self.directory.close()
        await self.db.dispose()


def migrate(settings: RecordsSettings) -> None:
    upgrade(settings.effective_database_url, MIGRATIONS, VERSION_TABLE)


def build(settings: RecordsSettings) -> RecordsApp:
    db = Database(settings.effective_database_url, pool_size=settings.database_pool_size)
    store = CatalogStore(db)
    directory = SubjectDirectory(settings.registry_address, settings.registry_deadline_seconds)
    outbox = Outbox(tables.outbox, PRODUCER)
    records = Records(db, store, directory, outbox, DEFAULT_CALENDAR)
    ingestion = Ingestion(
        db, store, directory, outbox, DEFAULT_CALENDAR, max_listed=settings.max_listed_rejections
    )
    return RecordsApp(
        settings,
        db,
        store,
        directory,
        Catalog(db, store),
        records,
        ingestion,
        RecordConsumers(records),
        Expiry(db, outbox),
    )
