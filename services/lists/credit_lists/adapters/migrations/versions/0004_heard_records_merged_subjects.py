"""records heard of (withdrawn ones kept), subjects merged (each to its survivor)

The consumer takes an event that failed again later, after the events that followed it,
and replicas work through different batches at once: a record's withdrawal could be heard
before its creation, whose listing rule then listed the subject on a record that no longer
stood, for good (nothing would withdraw it again); a subject's merge could be heard before
an entry was stored for the duplicate, or before the merge of the survivor's own duplicate
(A into B heard after B into C), and the entries stayed under a merged subject, where no
status read or restriction check looks. heard_records remembers withdrawals (and is the
row that makes a creation and a withdrawal at the same moment take turns on PostgreSQL);
merged_subjects maps each merged subject to the subject it stands for now, and every new
entry is stored through it. Merges heard before this revision were not kept: entries
left under a merged subject by then stay there (only the registry knows those merges).

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import credit_common.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "heard_records",
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("withdrawn_at", credit_common.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("record_id"),
    )
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
    op.drop_table("heard_records")
