"""objections and repairs keep the first due date a step missed (missed_due_at)

A case that missed a due date stays overdue (API.md) after its late step. Cases stored
before this revision are worked out from their steps: a step taken from a state is due at
the end of that state's due date (a day in China, UTC+8 all year), and the first step at
or after it missed it.

Revision ID: 0002
Revises: 0001
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from credit_common.db import GUID, UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MISSED = sa.text("missed_due_at IS NOT NULL")
# The due date of each state a step leaves, by table.
STAGE_DUES = {
    "objections": {"submitted": "accept_due", "verifying": "verify_due", "verified": "decide_due"},
    "repairs": {"submitted": "decide_due"},
}


def _end_of(day: dt.date) -> dt.datetime:
    """The moment a day in China (UTC+8, no daylight saving) ends, in UTC."""
    return dt.datetime.combine(day, dt.time(16), dt.UTC)


def _backfill(table: str, steps_table: str) -> None:
    dues = STAGE_DUES[table]
    cases = sa.table(
        table,
        sa.column("id", GUID()),
        sa.column("missed_due_at", UTCDateTime()),
        *(sa.column(name, sa.Date()) for name in sorted(set(dues.values()))),
    )
    steps = sa.table(
        steps_table,
        sa.column("id", sa.Integer()),
        sa.column("case_id", GUID()),
        sa.column("from_state", sa.String()),
        sa.column("action", sa.String()),
        sa.column("at", UTCDateTime()),
    )
    rows = op.get_bind().execute(
        sa.select(
            steps.c.case_id,
            steps.c.from_state,
            steps.c.at,
            *(cases.c[name] for name in sorted(set(dues.values()))),
        )
        .join(cases, cases.c.id == steps.c.case_id)
        .where(steps.c.action != "file")
        .order_by(steps.c.case_id, steps.c.id)
    )
    missed: dict[object, dt.datetime] = {}
    for row in rows:
        column = dues.get(row.from_state)
        day = getattr(row, column) if column else None
        if row.case_id in missed or day is None:
            continue
        if row.at >= _end_of(day):
            missed[row.case_id] = _end_of(day)
    if missed:
        op.get_bind().execute(
            sa.update(cases)
            .where(cases.c.id == sa.bindparam("case_id"))
            .values(missed_due_at=sa.bindparam("missed")),
            [{"case_id": case_id, "missed": at} for case_id, at in missed.items()],
        )


def upgrade() -> None:
    for table, steps_table in (
        ("objections", "objection_transitions"),
        ("repairs", "repair_transitions"),
    ):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("missed_due_at", UTCDateTime(timezone=True), nullable=True))
        _backfill(table, steps_table)
        op.create_index(
            f"ix_{table}_missed",
            table,
            ["missed_due_at"],
            postgresql_where=MISSED,
            sqlite_where=MISSED,
        )


def downgrade() -> None:
    for table in ("objections", "repairs"):
        op.drop_index(f"ix_{table}_missed", table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("missed_due_at")
