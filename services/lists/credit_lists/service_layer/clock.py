"""Time moves entries on: publicity over → effective, validity over → expired. Runs in
every replica; each transition happens once (SKIP LOCKED and a state-guarded UPDATE)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from credit.events.v1 import lists_pb2 as ev
from credit_common.db import Database, in_batch, insert_rows
from credit_common.messages import timestamp
from credit_common.outbox import Event, Outbox
from credit_common.timeutil import utcnow
from credit_lists.adapters import tables as t
from credit_lists.adapters.repository import basis_records
from credit_lists.domain.model import State

log = logging.getLogger(__name__)


class Clock:
    def __init__(
        self, db: Database, outbox: Outbox, *, batch: int = 5000, workers: int = 2
    ) -> None:
        self.db = db
        self.outbox = outbox
        self.batch = batch
        # Batches applied side by side on PostgreSQL, where SKIP LOCKED hands each its own
        # entries: one batch's events are written while the database updates the next.
        # SQLite has one writer at a time.
        self.workers = workers if db.dialect == "postgresql" else 1

    async def tick(self, now: dt.datetime | None = None) -> int:
        """Applies every transition due at `now`; returns how many it applied. Entries
        whose publicity ends become effective before any expiry is applied, so an entry
        due for both is expired by the same tick."""
        now = now or utcnow()
        total = 0
        for from_state, to_state, due, extra in (
            (
                State.PUBLICITY,
                State.EFFECTIVE,
                t.entries.c.publicity_until,
                {"effective_from": t.entries.c.publicity_until},
            ),
            (State.EFFECTIVE, State.EXPIRED, t.entries.c.valid_until, {}),
        ):
            async with asyncio.TaskGroup() as group:  # one failing stops the others
                drains = [
                    group.create_task(self._drain(from_state, to_state, due, extra, now))
                    for _ in range(self.workers)
                ]
            total += sum(d.result() for d in drains)
        return total

    async def _drain(
        self, from_state: State, to_state: State, due: Any, extra: dict[str, Any], now: dt.datetime
    ) -> int:
        """Batches of one transition, each in its own transaction, until none is left (or
        what is left is being applied by another worker or replica)."""
        applied = 0
        while True:
            async with self.db.transaction() as conn:
                moved = await self._step(conn, from_state, to_state, due, extra, now)
            applied += moved
            if moved < self.batch:
                return applied

    async def _step(
        self,
        conn: AsyncConnection,
        from_state: State,
        to_state: State,
        due: Any,
        extra: dict[str, Any],
        now: dt.datetime,
    ) -> int:
        e = t.entries
        pick = sa.select(e.c.id).where(e.c.state == from_state.value, due <= now)
        if from_state == State.PUBLICITY:
            pick = pick.where(e.c.open_objections == 0)
        pick = pick.order_by(due).limit(self.batch)
        if conn.dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        rows = (
            await conn.execute(
                sa.update(e)
                .where(in_batch(conn.dialect.name, e.c.id, pick), e.c.state == from_state.value)
                .values(state=to_state.value, updated_at=now, **extra)
                .returning(
                    e.c.id,
                    e.c.subject_id,
                    e.c.subject_key,
                    e.c.list_type,
                    e.c.color,
                    e.c.department,
                    e.c.valid_until,
                )
            )
        ).all()
        if not rows:
            return 0
        # An expiry names the entry's basis records and its end, as every other event of a
        # whole entry does: a "while listed" record stops being public with it (and one
        # listed before events named them learns it here).
        bases = await basis_records(conn, [r.id for r in rows]) if to_state == State.EXPIRED else {}
        reason = "publicity over" if to_state == State.EFFECTIVE else "validity over"
        before, after, kind = from_state.value, to_state.value, f"entry.{to_state.value}"
        await insert_rows(
            conn,
            t.entry_history,
            [
                {
                    "entry_id": r.id,
                    "from_state": before,
                    "to_state": after,
                    "at": now,
                    "actor": "clock",
                    "reason": reason,
                }
                for r in rows
            ],
        )
        await self.outbox.add(
            conn,
            *[
                Event(
                    kind,
                    r.subject_key,
                    ev.EntryChanged(
                        entry_id=str(r.id),
                        subject_id=str(r.subject_id),
                        subject_key=r.subject_key,
                        list_type=r.list_type,
                        color=r.color,
                        from_state=before,
                        to_state=after,
                        reason=reason,
                        department=r.department,
                        basis_record_ids=bases.get(r.id, []),
                        valid_until=timestamp(r.valid_until) if to_state == State.EXPIRED else None,
                    ),
                )
                for r in rows
            ],
        )
        return len(rows)

    async def run(self, stop: asyncio.Event, *, every: float = 1.0) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("clock tick failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)
