"""Builds the registry's parts in one place and hands them to the entrypoints."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from credit_common.db import Database
from credit_common.migrate import upgrade
from credit_common.outbox import Outbox
from credit_registry.adapters import tables
from credit_registry.adapters.crypto import IdentityProtector
from credit_registry.service_layer.registry import Registry
from credit_registry.settings import RegistrySettings

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"
VERSION_TABLE = "alembic_version_registry"
PRODUCER = "registry"


@dataclass
class RegistryApp:
    settings: RegistrySettings
    db: Database
    registry: Registry


def migrate(settings: RegistrySettings) -> None:
    upgrade(settings.effective_database_url, MIGRATIONS, VERSION_TABLE)


def build(settings: RegistrySettings) -> RegistryApp:
    db = Database(settings.effective_database_url, pool_size=settings.database_pool_size)
    protector = IdentityProtector(
        settings.pii_encryption_key, settings.pii_hmac_key, settings.pii_encryption_old_keys
    )
    registry = Registry(
        db,
        protector,
        Outbox(tables.outbox, PRODUCER),
        exceptions=settings.exceptions,
        allocation_prefix=settings.allocation_prefix,
        allocation_start=settings.allocation_start,
        allocation_end=settings.allocation_end,
        max_batch=settings.max_batch,
    )
    return RegistryApp(settings, db, registry)
