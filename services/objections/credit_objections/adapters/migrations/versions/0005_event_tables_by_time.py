"""the event tables by time, for pruning what is done with

Published outbox rows and the marks of applied events (processed_events, the dedupe by
event id) were kept for ever. Every replica now deletes, every hour, the outbox rows
published more than `CREDIT_OBJECTIONS_OUTBOX_KEEP_DAYS` (7) ago and the marks older than
`CREDIT_OBJECTIONS_PROCESSED_KEEP_DAYS` (30) (credit_common.pruning), oldest first through
these two indexes: the outbox's published rows by when they were published (a partial
index: the relay's unpublished rows are not in it), the marks by when they were applied.
On PostgreSQL each index is built in one go, holding up the writes of its table (the
relay's marks, the consumers' marks) while it is built.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PUBLISHED = sa.text("published_at IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_outbox_published",
        "outbox",
        ["published_at"],
        postgresql_where=_PUBLISHED,
        sqlite_where=_PUBLISHED,
    )
    op.create_index("ix_processed_events_processed_at", "processed_events", ["processed_at"])


def downgrade() -> None:
    op.drop_index("ix_processed_events_processed_at", table_name="processed_events")
    op.drop_index("ix_outbox_published", table_name="outbox")
