"""Records follow their subject's merges: those stored before it (the subject.merged
consumer moves them) and those stored for the duplicate after it was heard."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from credit_records.adapters.merges import survivors_of
from credit_records.adapters.repository import RecordRepository
from credit_records.domain.records import StoredRecord

MERGED = "subject_merged"  # the history's change
MERGED_BY = "registry"
_STORED_LATE = "stored for a subject merged before"


def merge_detail(
    duplicate: uuid.UUID, survivor: uuid.UUID, through: uuid.UUID | None = None
) -> str:
    """What a moved record's history says of the move: from which subject to which, and
    through the survivor the merge named when that was itself merged since."""
    detail = f"from {duplicate} to {survivor}"
    return detail if through is None or through == survivor else f"{detail} through {through}"


async def follow_merges(conn: AsyncConnection, records: Sequence[StoredRecord]) -> None:
    """Moves records just stored, inside the caller's transaction, from a subject merged
    into another to the subject it stands for now (the registry's answer was cached, or
    given just before the merge), each with its content hash and a history row; the
    records given are changed to match, for the events that tell of them.

    Call it after the records are written: the subjects are locked before their merges
    are looked up (`survivors_of`), so a merge at the same moment either waits for this
    transaction and then moves the records, or is seen here. On SQLite the first write
    takes the database's write lock, so nothing commits between the look-up and the
    insert. One look-up for all the records' subjects, not one a record."""
    survivors = await survivors_of(conn, {r.subject_id for r in records})
    if not survivors:
        return
    moved: list[StoredRecord] = []
    history = []
    for record in records:
        survivor = survivors.get(record.subject_id)
        if survivor is None:
            continue
        detail = merge_detail(record.subject_id, survivor.subject_id)
        record.subject_id, record.subject_key = survivor
        record.content_hash = record.fields_hash(record.versions[-1].fields)
        moved.append(record)
        history.append((record.id, MERGED, record.submitted_at, MERGED_BY, _STORED_LATE, detail))
    repo = RecordRepository(conn)
    await repo.set_subjects(moved)
    await repo.add_histories(history)
