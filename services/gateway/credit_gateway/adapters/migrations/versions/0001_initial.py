"""clients and signing keys

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import credit_common.db

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("secret_hash", sa.String(200), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("scopes", sa.String(500), nullable=False),
        sa.Column("subject_code", sa.String(32), nullable=False, server_default=""),
        sa.Column("created_at", credit_common.db.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("revoked_at", credit_common.db.UTCDateTime(), nullable=True),
    )
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("private_pem", sa.Text(), nullable=False),
        sa.Column("created_at", credit_common.db.UTCDateTime(), nullable=False),
        sa.Column("retired_at", credit_common.db.UTCDateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("signing_keys")
    op.drop_table("clients")
