"""Measure feedback: agencies report applying a measure (the case statistics)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from credit_common.db import Database
from credit_common.errors import FieldViolation, InvalidArgument, NotFound
from credit_common.timeutil import china_date, utcnow
from credit_lists.adapters import tables as t
from credit_lists.adapters.definitions import Definitions
from credit_lists.adapters.repository import EntryRepository
from credit_lists.domain.model import Entry
from credit_lists.service_layer import commands


def _not_in_force(entry: Entry, applied: dt.date, now: dt.datetime) -> list[FieldViolation]:
    """Why a measure cannot have been applied on `applied` under the entry: the entry had
    not taken effect, or had ended, in China on that day."""
    window = entry.in_force(now)
    if window is None:
        return [
            FieldViolation("entry_id", f"the entry never took effect (it is {entry.at(now).state})")
        ]
    start, end = window
    first = china_date(start)
    last = _last_day(end) if end is not None else None
    if applied < first:
        return [FieldViolation("applied_on", f"before the entry took effect on {first}")]
    if last is not None and applied > last:
        return [FieldViolation("applied_on", f"after the entry's last day in force, {last}")]
    return []


def _last_day(end: dt.datetime) -> dt.date | None:
    """The last day in China before `end`; None when `end` is past the last day there is
    (a valid_until late in 9999, or a period that never ends): no last day."""
    try:
        return china_date(end - _INSTANT)
    except OverflowError:
        return None


_INSTANT = dt.timedelta(microseconds=1)


@dataclass(frozen=True)
class Count:
    measure_code: str
    department: str
    month: str
    count: int


class FeedbackLog:
    def __init__(self, db: Database, definitions: Definitions) -> None:
        self.db = db
        self.definitions = definitions

    async def record(self, cmd: commands.Feedback) -> uuid.UUID:
        """Records that an agency applied a measure triggered by an entry."""
        problems = []
        try:
            applied = dt.date.fromisoformat(cmd.applied_on)
            if applied > china_date(utcnow()):  # the day it is in China, not in UTC
                problems.append(FieldViolation("applied_on", "is in the future"))
        except ValueError:
            applied = None
            problems.append(FieldViolation("applied_on", "YYYY-MM-DD"))
        if not cmd.outcome.strip():
            problems.append(FieldViolation("outcome", "required"))
        async with self.db.transaction() as conn:
            entry = await EntryRepository(conn).get(cmd.entry_id)
            if entry is None:
                raise NotFound("no such entry")
            measures = {
                m.measure_code for m in self.definitions.by_list_type.get(entry.list_type, [])
            }
            if cmd.measure_code not in measures:
                problems.append(
                    FieldViolation("measure_code", f"not a measure of {entry.list_type}")
                )
            if applied is not None and not problems:
                problems += _not_in_force(entry, applied, utcnow())
            if problems or applied is None:
                raise InvalidArgument(
                    "the feedback was not accepted", "validation_failed", problems
                )
            feedback_id = uuid.uuid4()
            await conn.execute(
                sa.insert(t.feedback).values(
                    id=feedback_id,
                    entry_id=cmd.entry_id,
                    measure_code=cmd.measure_code,
                    department=cmd.caller.department,
                    client_id=cmd.caller.client_id,
                    applied_on=applied,
                    month=f"{applied.year:04d}-{applied.month:02d}",  # %Y: no zeros before 1000
                    outcome=cmd.outcome.strip()[:200],
                    note=cmd.note[:1000],
                    created_at=utcnow(),
                )
            )
        return feedback_id

    async def statistics(
        self, *, measure_code: str, department: str, month_from: str, month_to: str
    ) -> list[Count]:
        query = sa.select(
            t.feedback.c.measure_code,
            t.feedback.c.department,
            t.feedback.c.month,
            sa.func.count().label("n"),
        ).group_by(t.feedback.c.measure_code, t.feedback.c.department, t.feedback.c.month)
        if measure_code:
            query = query.where(t.feedback.c.measure_code == measure_code)
        if department:
            query = query.where(t.feedback.c.department == department)
        if month_from:
            query = query.where(t.feedback.c.month >= month_from)
        if month_to:
            query = query.where(t.feedback.c.month <= month_to)
        async with self.db.read() as conn:
            rows = await conn.execute(
                query.order_by(
                    t.feedback.c.month, t.feedback.c.measure_code, t.feedback.c.department
                )
            )
        return [Count(r.measure_code, r.department, r.month, int(r.n)) for r in rows]
