"""merged_subjects: each merged subject's survivor, followed to the end of its chain

A merge moved the duplicate's records to the survivor named in the event, and nothing
kept it: a chain heard in reverse order (B into C, then A into B) left A's records under
B, merged itself, where no read looks (A's and B's codes resolve to C); a record stored
for the duplicate after the merge was heard (the registry's answer cached for a few
seconds) stayed under the duplicate. merged_subjects maps each merged subject to the
subject it stands for now, and every new record is stored through it. Merges heard before
this revision were not kept: records left under a merged subject by then stay there.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import credit_common.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "merged_subjects",
        sa.Column("subject_id", credit_common.db.GUID(length=36), nullable=False),
        sa.Column("survivor_id", credit_common.db.GUID(length=36), nullable=False),
        sa.Column("survivor_key", sa.String(length=80), nullable=False),
        sa.Column("merged_at", credit_common.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject_id"),
    )
    with op.batch_alter_table("merged_subjects", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_merged_subjects_survivor_id"), ["survivor_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("merged_subjects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_merged_subjects_survivor_id"))
    op.drop_table("merged_subjects")
