"""processed_events by the time each event was applied, for pruning the oldest

The marks of applied events (the dedupe by event id) were kept for ever; every replica
now deletes those older than `CREDIT_LISTS_PROCESSED_KEEP_DAYS` (30) every hour
(credit_common.pruning), oldest first through this index. On PostgreSQL the index is
built in one go, holding up writes of processed_events (the consumers) while it is built.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_processed_events_processed_at", "processed_events", ["processed_at"])


def downgrade() -> None:
    op.drop_index("ix_processed_events_processed_at", table_name="processed_events")
