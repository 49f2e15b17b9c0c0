"""Reads and writes objections and repair applications; never commits (the use case does).

A step is saved with a compare-and-set on the row's version (UPDATE ... WHERE id = ? AND
version = ? RETURNING id), so of two concurrent steps on one case only one is saved, on
PostgreSQL (where the row is also locked FOR UPDATE while the step is decided) and on SQLite.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from credit_common.db import advisory_lock, insert_ignore
from credit_objections.adapters import tables as t
from credit_objections.domain.cases import (
    Actor,
    Evidence,
    PageKey,
    Subject,
    TargetRef,
    Transition,
)
from credit_objections.domain.objections import OPEN, Objection, State
from credit_objections.domain.repairs import Repair, RepairState


@dataclass(frozen=True)
class Filters:
    """What a listing asks for; "open" as a state means any state not yet closed."""

    state: str = ""
    subject_id: uuid.UUID | None = None
    overdue_at: dt.datetime | None = None
    source_department: str = ""
    filed_by: str = ""
    # The page begins after this case, in the listing's order.
    after: PageKey | None = None


def _evidence_rows(items: Sequence[Evidence]) -> list[dict[str, str]]:
    return [{"name": e.name, "sha256": e.sha256} for e in items]


def _evidence(value: Any) -> tuple[Evidence, ...]:
    return tuple(Evidence(e["name"], e["sha256"]) for e in value or [])


def _case_row(case: Objection | Repair) -> dict[str, Any]:
    return {
        "id": case.id,
        "target_kind": case.target.kind,
        "target_id": case.target.id,
        "subject_id": case.subject.id,
        "subject_key": case.subject.key,
        "natural_person": case.subject.natural_person,
        "state": str(case.state),
        "version": case.version,
        "evidence": _evidence_rows(case.evidence),
        "filed_by": case.filed_by.client_id,
        "filed_department": case.filed_by.department,
        "filed_at": case.filed_at,
        "due_at": case.due_at,
        "missed_due_at": case.missed_due_at,
        "calendar_note": case.calendar_note[:300],
        "decision": case.decision,
        "decision_reason": case.decision_reason,
        "closed_at": case.closed_at,
    }


def _objection_row(o: Objection) -> dict[str, Any]:
    return {
        **_case_row(o),
        "reason": o.reason,
        "source_department": o.source_department,
        "accept_due": o.accept_due,
        "verify_due": o.verify_due,
        "decide_due": o.decide_due,
        "finding": o.finding,
        "corrected_fields": o.corrected_fields,
        "verification_note": o.verification_note,
    }


def _repair_row(r: Repair) -> dict[str, Any]:
    return {
        **_case_row(r),
        "grounds": r.grounds,
        "commitment": r.commitment,
        "decide_due": r.decide_due,
    }


def _common(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "target": TargetRef(row.target_kind, row.target_id),
        "subject": Subject(row.subject_id, row.subject_key, row.natural_person),
        "evidence": _evidence(row.evidence),
        "filed_by": Actor(row.filed_by, row.filed_department),
        "filed_at": row.filed_at,
        "due_at": row.due_at,
        "missed_due_at": row.missed_due_at,
        "calendar_note": row.calendar_note,
        "decision": row.decision,
        "decision_reason": row.decision_reason,
        "closed_at": row.closed_at,
        "version": row.version,
    }


def _objection(row: Any) -> Objection:
    return Objection(
        **_common(row),
        state=State(row.state),
        reason=row.reason,
        source_department=row.source_department,
        accept_due=row.accept_due,
        verify_due=row.verify_due,
        decide_due=row.decide_due,
        finding=row.finding,
        corrected_fields=row.corrected_fields,
        verification_note=row.verification_note,
    )


def _repair(row: Any) -> Repair:
    return Repair(
        **_common(row),
        state=RepairState(row.state),
        grounds=row.grounds,
        commitment=row.commitment,
        decide_due=row.decide_due,
    )


def _after(c: Any, key: PageKey) -> sa.ColumnElement[bool]:
    """The cases after `key` in the order open ones soonest due first, then closed ones
    (no due date) newest first: by due date, then filing time (later first), then id."""
    same_due = c.due_at.is_(None) if key.due_at is None else c.due_at == key.due_at
    later = sa.or_(c.filed_at < key.filed_at, sa.and_(c.filed_at == key.filed_at, c.id > key.id))
    if key.due_at is None:
        return sa.and_(same_due, later)
    return sa.or_(c.due_at.is_(None), c.due_at > key.due_at, sa.and_(same_due, later))


async def lock_target(conn: AsyncConnection, target: TargetRef) -> None:
    """Holds the target, till the transaction ends, against a filing or a closing on it in
    another transaction: of a filing and the closing of the target's cases, the one that
    comes second sees the other."""
    await advisory_lock(conn, f"objections.target:{target.kind}:{target.id}")


async def lock_subjects(conn: AsyncConnection, *subject_ids: uuid.UUID) -> None:
    """Holds the subjects, till the transaction ends, against a merge or a filing naming
    them in another."""
    await advisory_lock(conn, *(f"objections.subject:{s}" for s in subject_ids))


async def survivor_of(conn: AsyncConnection, subject: Subject) -> Subject:
    """The subject a case about `subject` belongs under: its survivor, if it was merged."""
    m = t.merged_subjects.c
    row = (
        await conn.execute(
            sa.select(m.survivor_id, m.survivor_key).where(m.duplicate_id == subject.id)
        )
    ).first()
    if row is None:
        return subject
    return Subject(row.survivor_id, row.survivor_key, subject.natural_person)


async def note_merge(
    conn: AsyncConnection, duplicate_id: uuid.UUID, survivor: Subject, at: dt.datetime
) -> None:
    """Notes the merge (the survivor as it now stands), and points the subjects merged
    into the duplicate before at the survivor too."""
    m = t.merged_subjects.c
    await conn.execute(
        insert_ignore(t.merged_subjects, conn.dialect.name).values(
            duplicate_id=duplicate_id,
            survivor_id=survivor.id,
            survivor_key=survivor.key,
            merged_at=at,
        )
    )
    await conn.execute(
        sa.update(t.merged_subjects)
        .where(m.survivor_id == duplicate_id)
        .values(survivor_id=survivor.id, survivor_key=survivor.key)
    )


async def mark_vanished(
    conn: AsyncConnection, target: TargetRef, at: dt.datetime, reason: str
) -> None:
    """Notes that the target is gone (the first time it is heard)."""
    await conn.execute(
        insert_ignore(t.vanished_targets, conn.dialect.name).values(
            target_kind=target.kind, target_id=target.id, vanished_at=at, reason=reason[:2000]
        )
    )


async def vanished(conn: AsyncConnection, target: TargetRef) -> str | None:
    """Why the target is gone, if it was heard so."""
    v = t.vanished_targets.c
    return await conn.scalar(
        sa.select(v.reason).where(v.target_kind == target.kind, v.target_id == target.id)
    )


class _Cases:
    """The parts of the two repositories that differ only by table."""

    table: sa.Table
    steps: sa.Table

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    def _select(self, case_id: uuid.UUID, for_update: bool) -> sa.Select[Any]:
        query = sa.select(self.table).where(self.table.c.id == case_id)
        if for_update and self.conn.dialect.name == "postgresql":
            query = query.with_for_update()
        return query

    async def _insert(self, row: dict[str, Any], steps: Sequence[Transition]) -> None:
        await self.conn.execute(sa.insert(self.table).values(**row, updated_at=row["filed_at"]))
        await self._add_steps(row["id"], steps)

    async def _add_steps(self, case_id: uuid.UUID, steps: Sequence[Transition]) -> None:
        if steps:
            await self.conn.execute(
                sa.insert(self.steps),
                [
                    {
                        "case_id": case_id,
                        "from_state": str(s.from_state),
                        "to_state": str(s.to_state),
                        "action": s.action,
                        "at": s.at,
                        "actor": s.actor,
                        "department": s.department,
                        "reason": s.reason,
                        "evidence": _evidence_rows(s.evidence),
                        "detail": s.detail,
                    }
                    for s in steps
                ],
            )

    async def _steps(self, case_id: uuid.UUID) -> list[Transition]:
        rows = await self.conn.execute(
            sa.select(self.steps).where(self.steps.c.case_id == case_id).order_by(self.steps.c.id)
        )
        return [
            Transition(
                r.from_state,
                r.to_state,
                r.action,
                r.at,
                r.actor,
                r.department,
                r.reason,
                _evidence(r.evidence),
                r.detail,
            )
            for r in rows
        ]

    async def _save(
        self, row: dict[str, Any], expected_version: int, step: Transition, now: dt.datetime
    ) -> bool:
        """Saves a step unless another step was saved since the case was read."""
        case_id = row.pop("id")
        saved = await self.conn.execute(
            sa.update(self.table)
            .where(self.table.c.id == case_id, self.table.c.version == expected_version)
            .values(**row, updated_at=now)
            .returning(self.table.c.id)
        )
        if saved.first() is None:
            return False
        await self._add_steps(case_id, [step])
        return True

    async def _open_rows(
        self, target: TargetRef, filed_by: dt.datetime | None = None
    ) -> Sequence[Any]:
        c = self.table.c
        query = sa.select(self.table).where(
            c.target_kind == target.kind, c.target_id == target.id, c.closed_at.is_(None)
        )
        if filed_by is not None:
            query = query.where(c.filed_at <= filed_by)
        if self.conn.dialect.name == "postgresql":
            query = query.with_for_update()
        return (await self.conn.execute(query)).all()

    def _listing(self, filters: Filters, open_states: Sequence[str]) -> sa.Select[Any]:
        c = self.table.c
        query = sa.select(self.table)
        if filters.state == "open":
            query = query.where(c.closed_at.is_(None))
        elif filters.state:
            query = query.where(c.state == filters.state)
        if filters.subject_id is not None:
            query = query.where(c.subject_id == filters.subject_id)
        if filters.filed_by:
            query = query.where(c.filed_by == filters.filed_by)
        if "source_department" in c and filters.source_department:
            query = query.where(c.source_department == filters.source_department)
        if filters.overdue_at is not None:
            # Past the open stage's due date, or one missed before (closed ones among them).
            query = query.where(
                sa.or_(c.due_at <= filters.overdue_at, c.missed_due_at.is_not(None))
            )
        after = filters.after
        if filters.state == "open" or filters.state in open_states:
            if after is not None and after.due_at is not None:
                query = query.where(sa.tuple_(c.due_at, c.id) > (after.due_at, after.id))
            return query.order_by(c.due_at, c.id)  # served by the due-date index
        if after is not None:
            query = query.where(_after(c, after))
        return query.order_by(c.due_at.is_(None), c.due_at, c.filed_at.desc(), c.id)

    async def move_case(self, case_id: uuid.UUID, survivor: Subject) -> None:
        """Files one case under the survivor of its subject."""
        await self.conn.execute(
            sa.update(self.table)
            .where(self.table.c.id == case_id)
            .values(subject_id=survivor.id, subject_key=survivor.key)
        )

    async def move_subject(self, subject_id: uuid.UUID, survivor: Subject) -> None:
        await self.conn.execute(
            sa.update(self.table)
            .where(self.table.c.subject_id == subject_id)
            .values(subject_id=survivor.id, subject_key=survivor.key)
        )


class ObjectionRepository(_Cases):
    table = t.objections
    steps = t.objection_transitions

    async def get(self, objection_id: uuid.UUID, *, for_update: bool = False) -> Objection | None:
        row = (await self.conn.execute(self._select(objection_id, for_update))).first()
        if row is None:
            return None
        objection = _objection(row)
        objection.transitions = await self._steps(objection_id)
        return objection

    async def add(self, objection: Objection) -> None:
        await self._insert(_objection_row(objection), objection.transitions)

    async def save(self, objection: Objection, expected_version: int, step: Transition) -> bool:
        return await self._save(_objection_row(objection), expected_version, step, step.at)

    async def open_one(self, target: TargetRef, filed_by: str) -> uuid.UUID | None:
        """The filer's open objection on the target, if any."""
        c = self.table.c
        found: uuid.UUID | None = await self.conn.scalar(
            sa.select(c.id).where(
                c.target_kind == target.kind,
                c.target_id == target.id,
                c.filed_by == filed_by,
                c.closed_at.is_(None),
            )
        )
        return found

    async def open_on(
        self, target: TargetRef, *, filed_by: dt.datetime | None = None
    ) -> list[Objection]:
        """The target's open objections (those filed by `filed_by`, if given), locked (a
        vanished target closes them)."""
        return [_objection(r) for r in await self._open_rows(target, filed_by)]

    async def list(self, filters: Filters, offset: int, limit: int) -> list[Objection]:
        query = self._listing(filters, [str(s) for s in OPEN]).offset(offset).limit(limit)
        return [_objection(r) for r in await self.conn.execute(query)]


class RepairRepository(_Cases):
    table = t.repairs
    steps = t.repair_transitions

    async def get(self, repair_id: uuid.UUID, *, for_update: bool = False) -> Repair | None:
        row = (await self.conn.execute(self._select(repair_id, for_update))).first()
        if row is None:
            return None
        repair = _repair(row)
        repair.transitions = await self._steps(repair_id)
        return repair

    async def add(self, repair: Repair) -> None:
        await self._insert(_repair_row(repair), repair.transitions)

    async def save(self, repair: Repair, expected_version: int, step: Transition) -> bool:
        return await self._save(_repair_row(repair), expected_version, step, step.at)

    async def open_on(
        self, target: TargetRef, *, filed_by: dt.datetime | None = None
    ) -> list[Repair]:
        return [_repair(r) for r in await self._open_rows(target, filed_by)]

    async def list(self, filters: Filters, offset: int, limit: int) -> list[Repair]:
        query = self._listing(filters, [RepairState.SUBMITTED]).offset(offset).limit(limit)
        return [_repair(r) for r in await self.conn.execute(query)]
