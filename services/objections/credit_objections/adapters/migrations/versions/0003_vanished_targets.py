"""vanished_targets: the targets heard gone, checked by a filing under the closing's lock

Targets that vanished before this revision are not listed: their open cases were closed
when they vanished, and a filing since was checked against the target itself (the race
this closes is one of milliseconds).

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from credit_common.db import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vanished_targets",
        sa.Column("target_kind", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("vanished_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.PrimaryKeyConstraint("target_kind", "target_id"),
    )


def downgrade() -> None:
    op.drop_table("vanished_targets")
