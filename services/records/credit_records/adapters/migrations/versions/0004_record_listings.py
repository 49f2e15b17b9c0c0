"""a "while listed" record's listings and the moment they end; reasons of any length

A court_dishonest record is public while its subject is listed on it (DOMAIN.md): the
records service hears of the entries it is the basis of and keeps their ends. Records
stored before this revision have no listings known: they stay public while active, as
before, until an event of their entry arrives.

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


_REASONS = ("record_versions", "record_history")


def upgrade() -> None:
    # An upheld objection's or a repair's reason (2,000 characters) after what caused it:
    # 500 characters refused it on PostgreSQL, and the event was parked. varchar to text
    # rewrites nothing there.
    for table in _REASONS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                "reason",
                existing_type=sa.String(length=500),
                type_=sa.Text(),
                existing_nullable=False,
                existing_server_default="",
            )
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("unlisted_at", credit_common.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "record_listings",
        sa.Column("record_id", credit_common.db.GUID(length=36), nullable=False),
        sa.Column("entry_id", sa.String(length=64), nullable=False),
        sa.Column("ends_at", credit_common.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended", sa.Boolean(), nullable=False),
        sa.Column("told_at", credit_common.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"]),
        sa.PrimaryKeyConstraint("record_id", "entry_id"),
    )


def downgrade() -> None:
    for table in _REASONS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                "reason",
                existing_type=sa.Text(),
                type_=sa.String(length=500),
                existing_nullable=False,
                existing_server_default="",
            )
    op.drop_table("record_listings")
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_column("unlisted_at")
