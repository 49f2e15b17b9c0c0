"""Merged subjects as a service that keeps things under them writes them down: each merged
subject's survivor, so that what arrives for a duplicate later, or a chain of merges heard
out of order, ends under the subject it stands for now. Each service owns its table (one
shape, `merged_subjects_table`); nothing here commits."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from credit_common.db import GUID, UTCDateTime, dialect_insert


class Survivor(NamedTuple):
    """The subject a merged one stands for now."""

    subject_id: uuid.UUID
    subject_key: str


def merged_subjects_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "merged_subjects",
        metadata,
        sa.Column("subject_id", GUID(), primary_key=True),
        sa.Column("survivor_id", GUID(), nullable=False, index=True),
        sa.Column("survivor_key", sa.String(80), nullable=False),
        sa.Column("merged_at", UTCDateTime(), nullable=False),
    )


async def record_merge(
    conn: AsyncConnection,
    table: sa.Table,
    duplicate: uuid.UUID,
    survivor: Survivor,
    at: dt.datetime,
    *,
    through: uuid.UUID | None = None,
) -> None:
    """Writes down that `duplicate` stands for `survivor` (a subject not merged), and so
    do the subjects merged into the duplicate before, or pointed at `through` (the
    survivor the merge named, written first and found merged since), so chains stay one
    step long. The caller holds the duplicate's lock."""
    to = {"survivor_id": survivor.subject_id, "survivor_key": survivor.subject_key}
    statement = dialect_insert(table, conn.dialect.name).values(
        subject_id=duplicate, merged_at=at, **to
    )
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.subject_id], set_={**to, "merged_at": at}
        )
    )
    pointing = [duplicate] if through is None else [duplicate, through]
    await conn.execute(sa.update(table).where(table.c.survivor_id.in_(pointing)).values(**to))
