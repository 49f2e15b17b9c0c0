"""each objection on an entry kept, opened and closed

The consumer takes an event that failed again later, after the events that followed it:
an objection's closing could be heard before its filing, and the late filing then held the
entry in publicity for good. A row per objection remembers the closing; the entries'
open_objections stays the count the clock reads. Objections filed before this revision
have no row: their closings still lower the count (see the consumer).

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import credit_common.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "entry_objections",
        sa.Column("entry_id", credit_common.db.GUID(length=36), nullable=False),
        sa.Column("objection_id", sa.String(length=64), nullable=False),
        sa.Column("opened_at", credit_common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", credit_common.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["entry_id"], ["entries.id"]),
        sa.PrimaryKeyConstraint("entry_id", "objection_id"),
    )


def downgrade() -> None:
    op.drop_table("entry_objections")
