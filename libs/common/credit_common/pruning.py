"""Rows of the event tables that nothing needs any more go, a batch per transaction: outbox
rows published long ago (their stream has them, or had them and every group applied them)
and the marks of events applied long ago (processed_events: no stream delivers those
again). Run by every replica; deleting the same old rows twice does no harm."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from credit_common.db import Database
from credit_common.tasks import repeat
from credit_common.timeutil import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Retention:
    """How long a published outbox row and an applied event's mark are kept."""

    outbox: dt.timedelta
    processed: dt.timedelta

    @classmethod
    def days(cls, outbox: float, processed: float) -> Retention:
        return cls(dt.timedelta(days=outbox), dt.timedelta(days=processed))


class Pruner:
    def __init__(
        self,
        db: Database,
        outbox: sa.Table,
        processed: sa.Table | None,
        retention: Retention,
        *,
        batch: int = 5000,
    ) -> None:
        self.db = db
        self.outbox = outbox
        self.processed = processed
        self.retention = retention
        self.batch = batch

    async def prune(self, now: dt.datetime | None = None) -> tuple[int, int]:
        """Deletes what is past its time at `now`: (outbox rows, processed marks) deleted."""
        now = now or utcnow()
        o = self.outbox.c
        published = await self._delete(
            self.outbox,
            o.seq,
            sa.select(o.seq)
            .where(o.published_at.is_not(None), o.published_at < now - self.retention.outbox)
            .order_by(o.published_at),
        )
        applied = 0
        if self.processed is not None:
            p = self.processed.c
            applied = await self._delete(
                self.processed,
                sa.tuple_(p.consumer_group, p.event_id),
                sa.select(p.consumer_group, p.event_id)
                .where(p.processed_at < now - self.retention.processed)
                .order_by(p.processed_at),
            )
        return published, applied

    async def _delete(
        self, table: sa.Table, key: sa.ColumnElement[Any], old: sa.Select[Any]
    ) -> int:
        """Deletes the rows `old` selects (by their key), a batch per transaction."""
        deleted = 0
        while True:
            async with self.db.transaction() as conn:
                result = await conn.execute(sa.delete(table).where(key.in_(old.limit(self.batch))))
            deleted += result.rowcount
            if result.rowcount < self.batch:
                return deleted

    async def run(self, stop: asyncio.Event, *, every: float) -> None:
        await repeat(stop, every, self._prune_and_say, "pruning the event tables", at_once=True)

    async def _prune_and_say(self) -> None:
        published, applied = await self.prune()
        if published or applied:
            log.info(
                "pruned %d published outbox rows and %d marks of applied events",
                published,
                applied,
            )
