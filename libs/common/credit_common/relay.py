"""Publishes outbox rows to a Redis stream, in order, and marks them published."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib

import psycopg
import sqlalchemy as sa
from psycopg import sql as psql
from redis.asyncio import Redis
from sqlalchemy.engine import URL

from credit_common.db import Database
from credit_common.outbox import outbox_channel
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
        self.producer = producer
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

    async def run(
        self,
        stop: asyncio.Event,
        *,
        idle_seconds: float = 0.05,
        notified_idle_seconds: float = 2.0,
    ) -> None:
        """Publishes until `stop`. With nothing to publish it waits `idle_seconds` (SQLite),
        or on PostgreSQL for the outbox's notification (a commit with events in it), looking
        anyway every `notified_idle_seconds` (a notification lost with a connection, or an
        advisory lock held by another replica that stopped)."""
        wake = asyncio.Event()
        listening = asyncio.Event()
        listener = None
        if self.db.dialect == "postgresql":
            listener = asyncio.create_task(self._listen(stop, wake, listening))
        try:
            while not stop.is_set():
                wake.clear()
                try:
                    published = await self.publish_once()
                except Exception:
                    log.exception("outbox relay failed; retrying")
                    published = 0
                    await asyncio.sleep(1.0)
                if published == 0:
                    idle = notified_idle_seconds if listening.is_set() else idle_seconds
                    await _first(stop, wake, seconds=idle)
        finally:
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener

    async def _listen(
        self, stop: asyncio.Event, wake: asyncio.Event, listening: asyncio.Event
    ) -> None:
        """LISTENs on its own connection and wakes the relay per notification; while it
        cannot, the relay polls."""
        channel = outbox_channel(self.producer)
        conninfo = _libpq_url(self.db.engine.url)
        while not stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                    await conn.execute(psql.SQL("LISTEN {}").format(psql.Identifier(channel)))
                    listening.set()
                    wake.set()  # what was committed before it listened
                    async for _ in conn.notifies():
                        wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("outbox relay: cannot listen on %s; polling", channel, exc_info=True)
            listening.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)


async def _first(stop: asyncio.Event, wake: asyncio.Event, *, seconds: float) -> None:
    """Returns when `stop` or `wake` is set, or after `seconds`."""
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()


def _libpq_url(url: URL) -> str:
    """The SQLAlchemy URL as a libpq connection string (no driver suffix)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)
