"""records.expiry_told_at: when record.expired was written for a record

A record's retention ending changed what reads show (expired, seen at restricted only) and
nothing else: no event told the other services, and the record's history did not say it.
The records service now sweeps the records past their retention, writes record.expired and
an `expired` history row for each once, and notes it here. The partial index holds only
the records not yet told (and not withdrawn), by their last day kept. Records already past
their retention are told by the first sweep after this revision, in batches.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import credit_common.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNTOLD = sa.text("expiry_told_at IS NULL AND withdrawn_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("expiry_told_at", credit_common.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            "ix_records_expiry_due",
            ["retention_until"],
            unique=False,
            postgresql_where=_UNTOLD,
            sqlite_where=_UNTOLD,
        )


def downgrade() -> None:
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_index("ix_records_expiry_due")
        batch_op.drop_column("expiry_told_at")
