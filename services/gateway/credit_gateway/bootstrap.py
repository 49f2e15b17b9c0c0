"""Builds the gateway's parts in one place."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

from redis.asyncio import Redis

from credit_common.db import Database
from credit_common.migrate import upgrade
from credit_common.redis_client import make_redis
from credit_gateway.adapters.backends import (
    Backend,
    ListsClient,
    ObjectionsClient,
    RecordsClient,
    RegistryClient,
)
from credit_gateway.adapters.cache_events import CacheInvalidator
from credit_gateway.adapters.keys import KeyStore
from credit_gateway.adapters.limits import RateLimiter
from credit_gateway.adapters.public_cache import PublicCache
from credit_gateway.adapters.revocations import RevocationNotices
from credit_gateway.service_layer.audit import AuditLog
from credit_gateway.service_layer.authorizations import Authorizations
from credit_gateway.service_layer.clients import Clients
from credit_gateway.service_layer.tokens import Tokens
from credit_gateway.settings import GatewaySettings

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"
VERSION_TABLE = "alembic_version_gateway"

log = logging.getLogger(__name__)


@dataclass
class Gateway:
    settings: GatewaySettings
    db: Database
    keys: KeyStore
    clients: Clients
    tokens: Tokens
    registry: RegistryClient
    records: RecordsClient
    lists: ListsClient
    objections: ObjectionsClient
    audit: AuditLog
    authorizations: Authorizations
    redis: Redis | None = None
    limiter: RateLimiter | None = None
    notices: RevocationNotices | None = None
    cache: PublicCache | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def backends(self) -> list[Backend]:
        return [self.registry, self.records, self.lists, self.objections]

    async def start(self) -> None:
        await self.keys.load()
        await self.audit.start()
        if self.notices is not None:
            self._tasks.append(asyncio.create_task(self.notices.listen(self._stop)))
        if self.cache is not None:
            # Begun before serving, so nothing kept before this start is served.
            invalidator = CacheInvalidator(self.cache.redis, self.cache)
            try:
                positions: dict[str, str] | None = await invalidator.begin()
            except Exception:
                positions = None  # Redis away: the cache is too; the listener retries
            self._tasks.append(asyncio.create_task(invalidator.run(self._stop, positions)))
        if self.settings.admin_client_id and self.settings.admin_client_secret:
            await self.clients.ensure_admin(
                self.settings.admin_client_id, self.settings.admin_client_secret
            )

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            await task
        try:
            await self.audit.stop()
        except Exception:  # what it could not write is spilled; the rest still stops
            log.exception("the audit log did not stop cleanly")
        if self.cache is not None:
            await self.cache.drain()
        if self.redis is not None:
            await self.redis.aclose()
        for backend in self.backends:
            await backend.close()
        await self.db.dispose()


def migrate(settings: GatewaySettings) -> None:
    upgrade(settings.effective_database_url, MIGRATIONS, VERSION_TABLE)


def build(settings: GatewaySettings) -> Gateway:
    db = Database(settings.effective_database_url, pool_size=settings.database_pool_size)
    keys = KeyStore(db)
    clients = Clients(db, cache_seconds=settings.client_cache_seconds)
    tokens = Tokens(
        keys,
        clients,
        issuer=settings.issuer,
        audience=settings.audience,
        ttl_seconds=settings.token_ttl_seconds,
    )
    registry = RegistryClient(settings.registry_address, settings.backend_deadline_seconds)
    records = RecordsClient(
        settings.records_address, settings.backend_deadline_seconds, settings.bulk_deadline_seconds
    )
    lists = ListsClient(settings.lists_address, settings.backend_deadline_seconds)
    objections = ObjectionsClient(settings.objections_address, settings.backend_deadline_seconds)
    redis = make_redis(settings.redis_url) if settings.redis_url else None
    notices = RevocationNotices(redis, clients) if redis else None
    if notices is not None:
        clients.on_revoke = notices.publish
    cache = (
        PublicCache(redis, settings.public_cache_seconds)
        if redis is not None and settings.public_cache_seconds > 0
        else None
    )
    return Gateway(
        settings,
        db,
        keys,
        clients,
        tokens,
        registry,
        records,
        lists,
        objections,
        AuditLog(
            db,
            spill_path=settings.var_dir / "gateway-audit-spill.ndjson",
            max_backlog=settings.audit_max_backlog,
            anchor=redis,
        ),
        Authorizations(db, clients),
        redis,
        RateLimiter(redis, lease_seconds=settings.rate_limit_lease_seconds) if redis else None,
        notices,
        cache,
    )
