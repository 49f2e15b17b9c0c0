"""index subjects.merged_into (looked up on every read with details)

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_subjects_merged_into",
        "subjects",
        ["merged_into"],
        postgresql_where=sa.text("merged_into IS NOT NULL"),
        sqlite_where=sa.text("merged_into IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_subjects_merged_into", "subjects")
