"""an entry's history keeps reasons of any length

A removal or withdrawal that an objection or a repair caused keeps its decision's reason
(up to 2,000 characters) after what caused it: on PostgreSQL the 1,000-character column
refused it, and the event that carried it was parked, the entry left listed. Widening
varchar to text rewrites nothing on PostgreSQL.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("entry_history", schema=None) as batch_op:
        batch_op.alter_column(
            "reason", existing_type=sa.String(length=1000), type_=sa.Text(), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("entry_history", schema=None) as batch_op:
        batch_op.alter_column(
            "reason", existing_type=sa.Text(), type_=sa.String(length=1000), existing_nullable=False
        )
