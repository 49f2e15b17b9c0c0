"""merged_subjects: each merged subject's survivor, for filings that resolved it before

Merges heard before this revision are not listed: their cases were moved when they were
heard, and a filing since resolved its subject through the registry, which follows merges.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from credit_common.db import GUID, UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "merged_subjects",
        sa.Column("duplicate_id", GUID(length=36), nullable=False),
        sa.Column("survivor_id", GUID(length=36), nullable=False),
        sa.Column("survivor_key", sa.String(length=80), nullable=False),
        sa.Column("merged_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("duplicate_id"),
    )
    op.create_index("ix_merged_subjects_survivor_id", "merged_subjects", ["survivor_id"])


def downgrade() -> None:
    op.drop_index("ix_merged_subjects_survivor_id", "merged_subjects")
    op.drop_table("merged_subjects")
