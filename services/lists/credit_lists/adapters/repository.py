"""Reads and writes entries; never commits (the use case does)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from credit_common.db import advisory_lock, among, dialect_insert
from credit_common.merges import Survivor
from credit_lists.adapters import tables as t
from credit_lists.domain.model import Entry, State, Transition

_CURRENT = (State.PUBLICITY.value, State.EFFECTIVE.value)
_STATE = {s.value: s for s in State}  # a dict lookup, not a call of the enum (0.35 µs)
# One subject's entries (a status read, the commonest read) with their basis records, in
# one statement built once: a read only binds its subject, and needs no transaction
# (statements that must agree) and no second round trip. An entry comes once a basis
# record (a row with none when it has none), in order.
_WITH_BASES = sa.outerjoin(t.entries, t.entry_basis, t.entry_basis.c.entry_id == t.entries.c.id)
# The subject, or the subject it has been merged into (merged_subjects keeps each chain
# one step long): a status read by an id resolved a moment before its merge was heard (a
# cached answer) finds the entries the merge moved. One statement: the lookup is run once,
# ahead of the entries' (a second statement cost a status 0.25 ms of the service's CPU).
_STANDS_FOR = sa.func.coalesce(
    sa.select(t.merged_subjects.c.survivor_id)
    .where(t.merged_subjects.c.subject_id == sa.bindparam("subject_id"))
    .scalar_subquery(),
    sa.bindparam("subject_id"),
)
_OF_SUBJECT_WITH_BASES = (
    sa.select(t.entries, t.entry_basis.c.record_id.label("basis_record_id"))
    .select_from(_WITH_BASES)
    .where(t.entries.c.subject_id == _STANDS_FOR)
    .order_by(t.entries.c.proposed_at, t.entries.c.id, t.entry_basis.c.record_id)
)
_CURRENT_OF_SUBJECT_WITH_BASES = _OF_SUBJECT_WITH_BASES.where(
    sa.or_(*(t.entries.c.state == state for state in _CURRENT))
)


def _entry(row: sa.RowMapping) -> Entry:
    # A mapping read by key, not a Row's attributes: see credit_common.db (a batch
    # check reads thousands of entries).
    return Entry(
        id=row["id"],
        subject_id=row["subject_id"],
        subject_key=row["subject_key"],
        list_type=row["list_type"],
        color=row["color"],
        department=row["department"],
        reason=row["reason"],
        decision_ref=row["decision_ref"],
        basis_record_ids=[],
        proposed_by=row["proposed_by"],
        proposed_at=row["proposed_at"],
        state=_STATE[row["state"]],
        publicity_until=row["publicity_until"],
        valid_until=row["valid_until"],
        effective_from=row["effective_from"],
        open_objections=row["open_objections"],
        repairable=row["repairable"],
        repair_possible_from=row["repair_possible_from"],
    )


async def basis_records(conn: AsyncConnection, entry_ids: list[uuid.UUID]) -> dict[Any, list[str]]:
    """The basis records of each of the entries (those with none left out), in the order of
    their ids as a status read gives them: a clock batch's thousands, looked up through the
    index one by one (`among`), not planned as a scan."""
    found: dict[Any, list[str]] = {}
    if entry_ids:
        column = t.entry_basis.c.entry_id
        rows = await conn.execute(
            sa.select(t.entry_basis)
            .where(among(conn.dialect.name, column, entry_ids, postgresql.UUID(as_uuid=True)))
            .order_by(column, t.entry_basis.c.record_id)  # as _OF_SUBJECT_WITH_BASES
        )
        for row in rows.mappings():
            found.setdefault(row["entry_id"], []).append(row["record_id"])
    return found


async def hear_of_records(
    conn: AsyncConnection, record_ids: Sequence[str], *, withdrawn_at: dt.datetime | None = None
) -> list[str]:
    """Writes each record's row in `heard_records` (withdrawn at `withdrawn_at`, if given
    and it was not already), and returns those of the records that have been withdrawn.

    The first thing done by whatever stores an entry resting on a record or withdraws a
    record, so that one of the two always sees the other, in whichever order they come
    and even at the same moment in two replicas: on PostgreSQL (READ COMMITTED) a
    transaction writing a row another one is writing (inserting: the unique index;
    updating: the row's lock) waits for that one to end, then updates the row as the other
    left it, and its later statements see all the other committed. A withdrawal thus either
    waits for the entry being stored and then withdraws it, or is seen by it, and no entry
    is stored. SQLite has one writer at a time: the first write holds the others off."""
    table = t.heard_records
    withdrawn = []
    for record_id in sorted(set(record_ids)):  # rows taken in one order: no two deadlock
        row = dialect_insert(table, conn.dialect.name).values(
            record_id=record_id, withdrawn_at=withdrawn_at
        )
        upsert = row.on_conflict_do_update(
            index_elements=[table.c.record_id],
            set_={
                "withdrawn_at": sa.func.coalesce(table.c.withdrawn_at, row.excluded.withdrawn_at)
            },
        ).returning(table.c.withdrawn_at)
        if (await conn.execute(upsert)).scalar_one() is not None:
            withdrawn.append(record_id)
    return withdrawn


async def lock_subject(conn: AsyncConnection, subject_id: uuid.UUID) -> None:
    """Holds, until the transaction ends, any other transaction that would change where
    the subject's entries go: merge it or merge into it, store an entry for it. SQLite
    has one writer at a time: the callers write before they read what the lock guards
    (`advisory_lock`)."""
    await advisory_lock(conn, f"lists.subject:{subject_id}")


async def survivor_of(conn: AsyncConnection, subject_id: uuid.UUID) -> Survivor | None:
    """The subject `subject_id` has been merged into, following merges made since (A into
    B, B into C: C), or None when it is not merged. Each subject on the way is locked
    (`lock_subject`) before its merge is looked up, so the answer holds until the
    transaction ends: a merge of the last one waits for it, and one committed before the
    lock is seen."""
    merged = t.merged_subjects.c
    found: Survivor | None = None
    seen = {subject_id}
    current = subject_id
    while True:
        await lock_subject(conn, current)
        row = (
            await conn.execute(
                sa.select(merged.survivor_id, merged.survivor_key).where(
                    merged.subject_id == current
                )
            )
        ).first()
        if row is None:
            return found
        if row.survivor_id in seen:  # recording a merge refuses a loop (see on_subject_merged)
            raise RuntimeError(f"merged subjects loop back to {row.survivor_id}")
        seen.add(row.survivor_id)
        found = Survivor(row.survivor_id, row.survivor_key)
        current = row.survivor_id


class EntryRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    def _among(self, column: Any, values: list[Any]) -> Any:
        return among(self.conn.dialect.name, column, values, postgresql.UUID(as_uuid=True))

    async def get(
        self, entry_id: uuid.UUID, *, for_update: bool = False, details: bool = True
    ) -> Entry | None:
        query = sa.select(t.entries).where(t.entries.c.id == entry_id)
        if for_update and self.conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = (await self.conn.execute(query)).mappings().first()
        if row is None:
            return None
        entry = _entry(row)
        if details:
            await self.complete([entry])
        return entry

    async def complete(self, entries: list[Entry], *, history: bool = True) -> None:
        if not entries:
            return
        by_id = {e.id: e for e in entries}
        ids = list(by_id)
        for entry_id, record_ids in (await basis_records(self.conn, ids)).items():
            by_id[entry_id].basis_record_ids.extend(record_ids)
        if history:
            rows = await self.conn.execute(
                sa.select(t.entry_history)
                .where(t.entry_history.c.entry_id.in_(ids))
                .order_by(t.entry_history.c.id)
            )
            for row in rows:
                by_id[row.entry_id].history.append(
                    Transition(row.from_state, row.to_state, row.at, row.actor, row.reason)
                )

    async def survivors(self, subject_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Survivor]:
        """The subjects among these that have been merged, each with the subject it stands
        for now (merged_subjects keeps every chain one step long), for reads that resolved a
        code a moment before its merge was heard (the directory's cached answer): the
        merge moved the duplicate's entries to the survivor. No locks: a read."""
        merged = t.merged_subjects.c
        found: dict[uuid.UUID, Survivor] = {}
        ids = list(subject_ids)
        for start in range(0, len(ids), 10_000):
            rows = await self.conn.execute(
                sa.select(merged.subject_id, merged.survivor_id, merged.survivor_key).where(
                    self._among(merged.subject_id, ids[start : start + 10_000])
                )
            )
            found.update({r.subject_id: Survivor(r.survivor_id, r.survivor_key) for r in rows})
        return found

    async def current_for_subjects(self, subject_ids: Sequence[uuid.UUID]) -> list[Entry]:
        """The entries in publicity or effective of many subjects (a batch check), without
        their bases or history."""
        found: list[Entry] = []
        ids = list(subject_ids)
        for start in range(0, len(ids), 10_000):
            query = sa.select(t.entries).where(
                self._among(t.entries.c.subject_id, ids[start : start + 10_000]),
                t.entries.c.state.in_(_CURRENT),
            )
            rows = await self.conn.execute(query.order_by(t.entries.c.proposed_at))
            found += [_entry(r) for r in rows.mappings()]
        return found

    async def with_bases_after(self, after: uuid.UUID | None, limit: int) -> list[Entry]:
        """Entries that have basis records, in id order after `after`, with their bases and
        history."""
        ids = (
            sa.select(t.entry_basis.c.entry_id)
            .distinct()
            .order_by(t.entry_basis.c.entry_id)
            .limit(limit)
        )
        if after is not None:
            ids = ids.where(t.entry_basis.c.entry_id > after)
        query = (
            sa.select(t.entries)
            .where(t.entries.c.id.in_(ids.scalar_subquery()))
            .order_by(t.entries.c.id)
        )
        if self.conn.dialect.name == "postgresql":
            # FOR SHARE, to the end of the transaction that sends them as they stand: a
            # change made meanwhile waits, and its event follows theirs (the records service
            # keeps the last it hears).
            query = query.with_for_update(read=True)
        rows = await self.conn.execute(query)
        found = [_entry(row) for row in rows.mappings()]
        await self.complete(found)
        return found

    async def of_subject(self, subject_id: uuid.UUID, *, current_only: bool) -> list[Entry]:
        """One subject's entries with their basis records (no history), by one statement;
        a merged subject's: those of the subject it stands for now."""
        query = _CURRENT_OF_SUBJECT_WITH_BASES if current_only else _OF_SUBJECT_WITH_BASES
        rows = await self.conn.execute(query, {"subject_id": subject_id})
        found: list[Entry] = []
        for row in rows.mappings():
            if not found or found[-1].id != row["id"]:
                found.append(_entry(row))
            if row["basis_record_id"] is not None:
                found[-1].basis_record_ids.append(row["basis_record_id"])
        return found

    async def search(
        self,
        *,
        list_type: str,
        states: Sequence[str],
        subject_id: uuid.UUID | None,
        offset: int,
        limit: int,
    ) -> list[Entry]:
        query = sa.select(t.entries)
        if list_type:
            query = query.where(t.entries.c.list_type == list_type)
        if states:
            query = query.where(t.entries.c.state.in_(list(states)))
        if subject_id:
            query = query.where(t.entries.c.subject_id == subject_id)
        rows = await self.conn.execute(
            query.order_by(t.entries.c.proposed_at.desc(), t.entries.c.id)
            .offset(offset)
            .limit(limit)
        )
        return [_entry(r) for r in rows.mappings()]

    async def insert(self, entry: Entry) -> None:
        await self.conn.execute(
            sa.insert(t.entries).values(
                id=entry.id,
                subject_id=entry.subject_id,
                subject_key=entry.subject_key,
                list_type=entry.list_type,
                color=entry.color,
                department=entry.department,
                reason=entry.reason,
                decision_ref=entry.decision_ref,
                proposed_by=entry.proposed_by,
                proposed_at=entry.proposed_at,
                state=entry.state.value,
                publicity_until=entry.publicity_until,
                valid_until=entry.valid_until,
                effective_from=entry.effective_from,
                open_objections=0,
                repairable=entry.repairable,
                repair_possible_from=entry.repair_possible_from,
                updated_at=entry.proposed_at,
            )
        )
        if entry.basis_record_ids:
            await self.conn.execute(
                sa.insert(t.entry_basis),
                [{"entry_id": entry.id, "record_id": r} for r in entry.basis_record_ids],
            )

    async def move_to_subject(
        self, entry_id: uuid.UUID, subject_id: uuid.UUID, subject_key: str
    ) -> None:
        await self.conn.execute(
            sa.update(t.entries)
            .where(t.entries.c.id == entry_id)
            .values(subject_id=subject_id, subject_key=subject_key)
        )

    async def move(
        self,
        entry_id: uuid.UUID,
        from_state: State,
        to_state: State,
        at: dt.datetime,
        actor: str,
        reason: str,
        **values: Any,
    ) -> bool:
        """Moves an entry on if it is still in `from_state` (exactly once, whoever races)."""
        moved = await self.conn.execute(
            sa.update(t.entries)
            .where(t.entries.c.id == entry_id, t.entries.c.state == from_state.value)
            .values(state=to_state.value, updated_at=at, **values)
            .returning(t.entries.c.id)
        )
        if moved.first() is None:
            return False
        await self.conn.execute(
            sa.insert(t.entry_history).values(
                entry_id=entry_id,
                from_state=from_state.value,
                to_state=to_state.value,
                at=at,
                actor=actor,
                reason=reason,
            )
        )
        return True

    async def add_note(
        self,
        entry_id: uuid.UUID,
        state: State,
        at: dt.datetime,
        actor: str,
        reason: str,
        *,
        from_state: State | None = None,
    ) -> None:
        """A step of the entry's history that moves nothing by itself (a note in `state`),
        or, with `from_state`, the step into `state` that a new entry took as it was
        stored (in force at once)."""
        await self.conn.execute(
            sa.insert(t.entry_history).values(
                entry_id=entry_id,
                from_state=(from_state or state).value,
                to_state=state.value,
                at=at,
                actor=actor,
                reason=reason,
            )
        )
