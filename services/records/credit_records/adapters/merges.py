"""Merged subjects: each one's survivor, and the locks that order merges with the storing
of records; never commits (the use case does)."""

from __future__ import annotations

import uuid
from collections.abc import Collection

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from credit_common.db import among
from credit_common.merges import Survivor
from credit_records.adapters import tables as t

# Subjects are locked by stripe, not one by one: a bulk load locks every subject of its
# chunks, and an atomic one holds them all till its end, which would take one lock of the
# server's shared lock table per subject (out of shared memory after some thousands).
# Subjects sharing a stripe only take turns between a merge and a storing.
_STRIPES = 256
_KEY_BASE = int.from_bytes(b"records\0", "big")  # apart from names hashed by advisory_lock
_LOCK = {
    shared: sa.text(f"SELECT {function}(k) FROM unnest(CAST(:keys AS bigint[])) AS k").bindparams(
        sa.bindparam("keys", type_=postgresql.ARRAY(sa.BigInteger()))
    )
    for shared, function in (
        (True, "pg_advisory_xact_lock_shared"),
        (False, "pg_advisory_xact_lock"),
    )
}
# SQLite takes at most 999 parameters a statement.
_SQLITE_IDS = 900


def _stripe(subject_id: uuid.UUID) -> int:
    return _KEY_BASE + subject_id.int % _STRIPES


# How long a merge waits for the storing of records on its stripe to end. Waiting, it
# queues every later storing on the stripe behind it (PostgreSQL grants no shared lock
# past a queued exclusive one): an atomic bulk load holds its stripes till it ends, which
# may be an hour, and record writing would stop with it. Past this, the merge fails
# (lock_not_available) and its event is retried later, as any failing event is.
MERGE_LOCK_WAIT_MS = 2000


async def lock_subjects(
    conn: AsyncConnection, subject_ids: Collection[uuid.UUID], *, shared: bool
) -> set[int]:
    """Holds the subjects, till the transaction ends, in one statement: `shared` (storing
    records for them) against a merge of one of them, or not (merging one) against
    anything else on it, waiting MERGE_LOCK_WAIT_MS at most. Returns the stripes locked.
    SQLite has one writer at a time: callers write before they read what the lock
    guards."""
    stripes = {_stripe(s) for s in subject_ids}
    if conn.dialect.name != "postgresql" or not stripes:
        return stripes
    if shared:
        # In one order, so that two of them wait for each other rather than deadlock.
        await conn.execute(_LOCK[True], {"keys": sorted(stripes)})
        return stripes
    before = await conn.scalar(sa.text("SELECT current_setting('lock_timeout')"))
    await conn.execute(_LOCK_WAIT, {"wait": f"{MERGE_LOCK_WAIT_MS}ms"})
    await conn.execute(_LOCK[False], {"keys": sorted(stripes)})
    await conn.execute(_LOCK_WAIT, {"wait": before})
    return stripes


_LOCK_WAIT = sa.text("SELECT set_config('lock_timeout', :wait, true)")


async def survivors_of(
    conn: AsyncConnection, subject_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, Survivor]:
    """The subject each of `subject_ids` has been merged into, following merges made since
    (A into B, B into C: C), for those merged. Each subject on the way is locked (shared)
    before its merge is looked up, so the answers hold till the transaction ends: a merge
    of one waits for it, and one committed before the lock is seen. One statement locks
    and one looks up each step of the chains (one step, mostly: every merge written
    points at a subject not merged)."""
    step: dict[uuid.UUID, Survivor] = {}
    looked: set[uuid.UUID] = set()
    locked: set[int] = set()
    todo = set(subject_ids)
    while todo:
        unlocked = [s for s in todo if _stripe(s) not in locked]
        locked |= await lock_subjects(conn, unlocked, shared=True)
        looked |= todo
        step.update(await _merges_of(conn, list(todo)))
        todo = {s.subject_id for s in step.values()} - looked
    found: dict[uuid.UUID, Survivor] = {}
    for subject_id in subject_ids:
        current = step.get(subject_id)
        seen = {subject_id}
        while current is not None:
            if current.subject_id in seen:  # a merge is never recorded so (see record_merge)
                raise RuntimeError(f"merged subjects loop back to {current.subject_id}")
            seen.add(current.subject_id)
            found[subject_id] = current
            current = step.get(current.subject_id)
    return found


async def _merges_of(
    conn: AsyncConnection, subject_ids: list[uuid.UUID]
) -> dict[uuid.UUID, Survivor]:
    m = t.merged_subjects.c
    size = len(subject_ids) if conn.dialect.name == "postgresql" else _SQLITE_IDS
    found: dict[uuid.UUID, Survivor] = {}
    for start in range(0, len(subject_ids), size):
        wanted = among(
            conn.dialect.name,
            m.subject_id,
            subject_ids[start : start + size],
            postgresql.UUID(as_uuid=True),
        )
        rows = await conn.execute(
            sa.select(m.subject_id, m.survivor_id, m.survivor_key).where(wanted)
        )
        found.update({r.subject_id: Survivor(r.survivor_id, r.survivor_key) for r in rows})
    return found
