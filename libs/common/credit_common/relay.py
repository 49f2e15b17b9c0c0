"""Publishes outbox rows to a Redis stream, in order, and marks them published."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib

import sqlalchemy as sa
from redis.asyncio import Redis

from credit_common.db import Database
from credit_common.timeutil import utcnow

log = logging.getLogger(__name__)


def stream_name(producer: str) -> str:
    return f"credit.events.{producer}"


class OutboxRelay:
    """At-least-once publishing: a crash after XADD and before the mark republishes the
    same envelope (same event id), which consumers dedupe. One relay publishes at a time
    (an advisory lock on PostgreSQL), so the stream keeps the outbox's order."""

    def __init__(
        self,
        db: Database,
        redis: Redis,
        table: sa.Table,
        producer: str,
        *,
        batch_size: int = 500,
        maxlen: int = 1_000_000,
    ) -> None:
        self.db = db
        self.redis = redis
        self.table = table
        self.stream = stream_name(producer)
        self.batch_size = batch_size
        self.maxlen = maxlen
        self._lock_key = zlib.crc32(self.stream.encode())

    async def publish_once(self) -> int:
        """Publishes one batch; returns how many rows it published."""
        t = self.table
        async with self.db.transaction() as conn:
            if self.db.dialect == "postgresql":
                got = await conn.scalar(
                    sa.select(sa.func.pg_try_advisory_xact_lock(self._lock_key))
                )
                if not got:
                    return 0
            rows = (
                await conn.execute(
                    sa.select(t.c.seq, t.c.envelope)
                    .where(t.c.published_at.is_(None))
                    .order_by(t.c.seq)
                    .limit(self.batch_size)
                )
            ).all()
            if not rows:
                return 0
            async with self.redis.pipeline(transaction=False) as pipe:
                for row in rows:
                    pipe.xadd(
                        self.stream,
                        {"envelope": row.envelope},
                        maxlen=self.maxlen,
                        approximate=True,
                    )
                await pipe.execute()
            await conn.execute(
                sa.update(t).where(t.c.seq.in_([r.seq for r in rows])).values(published_at=utcnow())
            )
            return len(rows)

    async def run(self, stop: asyncio.Event, *, idle_seconds: float = 0.05) -> None:
        while not stop.is_set():
            try:
                published = await self.publish_once()
            except Exception:
                log.exception("outbox relay failed; retrying")
                published = 0
                await asyncio.sleep(1.0)
            if published == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=idle_seconds)
