"""Publishes outbox rows to a Redis stream, in order, and marks them published."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zlib
from collections.abc import Sequence
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import sql as psql
from redis.asyncio import Redis
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection

from credit_common import metrics
from credit_common.db import Database, postgres_connect_args
from credit_common.outbox import outbox_channel
from credit_common.timeutil import utcnow

log = logging.getLogger(__name__)


def stream_name(producer: str) -> str:
    return f"credit.events.{producer}"


class OutboxRelay:
    """At-least-once publishing: a crash after XADD and before the mark republishes the
    same envelope (same event id), which consumers dedupe. One relay publishes at a time
    (an advisory lock on PostgreSQL), so the stream keeps the outbox's order.

    After publishing, at most every `trim_every` seconds, it trims the stream (`trim`) of
    what every consumer group has read and acknowledged and is older than `keep_seconds`
    (the gateways' public cache listeners read the streams without a group, and resume
    from where they stopped after a failure); `maxlen` is only a last resort against a
    group that lags far behind (or a stream no group reads yet)."""

    def __init__(
        self,
        db: Database,
        redis: Redis,
        table: sa.Table,
        producer: str,
        *,
        batch_size: int = 500,
        maxlen: int = 1_000_000,
        trim_every: float = 10.0,
        keep_seconds: float = 3600.0,
    ) -> None:
        self.db = db
        self.redis = redis
        self.table = table
        self.producer = producer
        self.stream = stream_name(producer)
        self.batch_size = batch_size
        self.maxlen = maxlen
        self.trim_every = trim_every
        self.keep_seconds = keep_seconds
        self._next_trim = 0.0
        self._lock_key = zlib.crc32(self.stream.encode())

    async def publish_once(self) -> int:
        """Publishes one batch; returns how many rows it published."""
        published = await self._publish_batch()
        if published:
            metrics.PUBLISHED.labels(self.stream).inc(published)
        if published and time.monotonic() >= self._next_trim:
            self._next_trim = time.monotonic() + self.trim_every
            try:
                await self.trim()
            except Exception:
                log.warning("outbox relay: cannot trim %s", self.stream, exc_info=True)
        return published

    async def _publish_batch(self) -> int:
        if self.db.dialect != "postgresql":
            return await self._publish_batch_unlocked()
        async with self.db.transaction() as conn:
            # One relay of the service publishes at a time; the others find the lock taken.
            if not await conn.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(self._lock_key))):
                return 0
            rows = await self._unpublished(conn)
            if rows:
                await self._add_to_stream(rows)
                await self._mark(conn, rows)
            return len(rows)

    async def _publish_batch_unlocked(self) -> int:
        """SQLite: the rows are read, published and marked in turn, not in one transaction,
        which would hold the process's one writer turn (see `Database`) while Redis is
        waited on: every write of the service stalled up to Redis's 5 s timeout, again and
        again, while Redis did not answer. One process writes the file, so one relay reads
        it; a crash between publishing and marking publishes the rows again, as ever, under
        the same event ids (consumers dedupe by them)."""
        async with self.db.read() as conn:
            rows = await self._unpublished(conn)
        if not rows:
            return 0
        await self._add_to_stream(rows)
        async with self.db.transaction() as conn:
            await self._mark(conn, rows)
        return len(rows)

    async def _unpublished(self, conn: AsyncConnection) -> Sequence[sa.Row[Any, Any]]:
        t = self.table
        query = (
            sa.select(t.c.seq, t.c.envelope)
            .where(t.c.published_at.is_(None))
            .order_by(t.c.seq)
            .limit(self.batch_size)
        )
        return (await conn.execute(query)).all()

    async def _add_to_stream(self, rows: Sequence[sa.Row[Any, Any]]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for row in rows:
                pipe.xadd(self.stream, {"envelope": row.envelope})
            await pipe.execute()

    async def _mark(self, conn: AsyncConnection, rows: Sequence[sa.Row[Any, Any]]) -> None:
        t = self.table
        await conn.execute(
            sa.update(t).where(t.c.seq.in_([r.seq for r in rows])).values(published_at=utcnow())
        )

    async def trim(self) -> int:
        """Removes from the stream what no consumer group needs any more: entries before
        the oldest one a group still needs (its first pending message, or else the first
        after its last delivered one) and older than `keep_seconds` before the newest
        entry (ids are the moments Redis added them), by XTRIM MINID. Never what a group
        has not read, unless the stream is still longer than `maxlen` (a group lagging far
        behind, or no group yet: a stream nobody reads keeps up to `maxlen` entries): then
        it is cut to `maxlen` and the groups that lost events by it are logged as an
        error. Returns how many entries it removed."""
        head = _head(await self.redis.xrange(self.stream, count=1))
        if head is None:
            return 0
        needs: dict[str, tuple[int, int]] = {}
        for info in await self.redis.xinfo_groups(self.stream):
            group = _text(info["name"])
            needs[group] = await self._needed_by(group, head, info)
        removed = 0
        newest = _head(await self.redis.xrevrange(self.stream, count=1))
        if needs and newest is not None:
            kept_from = (max(newest[0] - int(self.keep_seconds * 1000), 0), 0)
            oldest_needed = min(*needs.values(), kept_from)
            if oldest_needed > head:
                # Approximate: whole nodes only, so cheap; LIMIT 0: all of them in one go.
                removed += await self.redis.xtrim(
                    self.stream, minid=_id_text(oldest_needed), approximate=True, limit=0
                )
        if await self.redis.xlen(self.stream) > self.maxlen:
            cut = await self.redis.xtrim(self.stream, maxlen=self.maxlen, approximate=True, limit=0)
            removed += cut
            if cut:
                now_head = _head(await self.redis.xrange(self.stream, count=1))
                lost = sorted(g for g, need in needs.items() if now_head is None or need < now_head)
                if lost:
                    log.error(
                        "%s grew past its cap of %d entries: trimmed %d, events that consumer "
                        "group(s) %s had not read yet are lost to them",
                        self.stream,
                        self.maxlen,
                        cut,
                        ", ".join(lost),
                    )
                elif not needs:
                    log.warning(
                        "%s grew past its cap of %d entries with no consumer group: trimmed %d",
                        self.stream,
                        self.maxlen,
                        cut,
                    )
        return removed

    async def _needed_by(
        self, group: str, head: tuple[int, int], info: dict[str, Any]
    ) -> tuple[int, int]:
        """The id of the oldest entry `group` still needs: its first pending message still
        on the stream, or else the first entry after its last delivered one (past the
        stream's end when it has read everything)."""
        if info["pending"]:
            pending = await self.redis.xpending_range(
                self.stream, group, min=_id_text(head), max="+", count=1
            )
            if pending:
                return _id(pending[0]["message_id"])
        delivered = _text(info["last-delivered-id"])
        after = await self.redis.xrange(self.stream, min=f"({delivered}", count=1)
        if after:
            return _id(after[0][0])
        ms, seq = _id(delivered)
        return (ms, seq + 1)

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
        advisory lock held by another replica that stopped). A stop lets the pass under way
        (a batch and its outbox commit) finish, and ends the waits at once."""
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
                    await _pause(stop, 1.0)
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
        # A connect timeout and keepalives, as the engine's: a silent server is noticed.
        connect_args = postgres_connect_args(self.db.url)
        while not stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(
                    conninfo, autocommit=True, **connect_args
                ) as conn:
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


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    """Waits `seconds`, or less if `stop` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _id(value: Any) -> tuple[int, int]:
    """A stream entry id as a pair that sorts as Redis does."""
    ms, _, seq = _text(value).partition("-")
    return int(ms), int(seq or 0)


def _head(entries: Any) -> tuple[int, int] | None:
    """The id of the first of `entries` (XRANGE's answer), None when there are none."""
    return _id(entries[0][0]) if entries else None


def _id_text(value: tuple[int, int]) -> str:
    return f"{value[0]}-{value[1]}"


def _libpq_url(url: URL) -> str:
    """The SQLAlchemy URL as a libpq connection string (no driver suffix)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)
