"""Time ends records: once a record's retention is over (the day after its last day kept
has begun in China), reads show it expired, at restricted only. The sweep tells it: an
`expired` history row and a record.expired event for each such record, once. Runs in every
replica; each record is told once (SKIP LOCKED on PostgreSQL, SQLite's one writer, and an
UPDATE guarded by the record not being told yet)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from credit.events.v1 import records_pb2 as ev
from credit_common.db import Database, in_batch
from credit_common.outbox import Event, Outbox
from credit_common.tasks import repeat
from credit_common.timeutil import china_date, utcnow
from credit_records.adapters import tables as t
from credit_records.adapters.repository import RecordRepository
from credit_records.service_layer.records import summary

log = logging.getLogger(__name__)
_R = t.records.c


class Expiry:
    def __init__(
        self, db: Database, outbox: Outbox, *, batch: int = 1000, batches: int = 10
    ) -> None:
        self.db = db
        self.outbox = outbox
        self.batch = batch
        # Batches a sweep tells at most: a backlog (the records past their retention when
        # migration 0011 came) is told 10,000 a sweep, at a pace the consumers keep up
        # with, not in one burst that could outgrow the stream's cap.
        self.batches = batches

    async def tick(self, now: dt.datetime | None = None) -> int:
        """Tells the records whose retention is over at `now`, up to `batches` batches;
        returns how many it told. Each batch is a transaction of its own: a failure keeps
        the batches told before."""
        now = now or utcnow()
        told = 0
        for _ in range(self.batches):
            async with self.db.transaction() as conn:
                step = await self._step(conn, now)
            told += step
            if step < self.batch:
                break
        return told

    async def _step(self, conn: AsyncConnection, now: dt.datetime) -> int:
        # Its last day kept is before today in China: `status_at`'s `day > retention_until`.
        today = china_date(now)
        pick = (
            sa.select(_R.id)
            .where(_R.expiry_told_at.is_(None), _R.withdrawn_at.is_(None))
            .where(_R.retention_until < today)
            .order_by(_R.retention_until)
            .limit(self.batch)
        )
        if conn.dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        rows = (
            await conn.execute(
                sa.update(t.records)
                .where(in_batch(conn.dialect.name, _R.id, pick), _R.expiry_told_at.is_(None))
                .values(expiry_told_at=now)
                .returning(
                    _R.id,
                    _R.subject_id,
                    _R.subject_key,
                    _R.item_code,
                    _R.department,
                    _R.source_ref,
                    _R.decided_on,
                    _R.current_version,
                    _R.retention_until,
                )
            )
        ).all()
        if not rows:
            return 0
        await RecordRepository(conn).add_histories(
            [(r.id, "expired", now, "records", "", f"kept until {r.retention_until}") for r in rows]
        )
        await self.outbox.add(
            conn,
            *[
                Event(
                    "record.expired",
                    r.subject_key,
                    ev.RecordExpired(
                        record=summary(r, "expired"),
                        retention_until=r.retention_until.isoformat(),
                    ),
                )
                for r in rows
            ],
        )
        return len(rows)

    async def run(self, stop: asyncio.Event, *, every: float) -> None:
        await repeat(stop, every, self._tick_and_say, "the expiry sweep", at_once=True)

    async def _tick_and_say(self) -> None:
        told = await self.tick()
        if told:
            log.info("records past their retention told expired: %d", told)
