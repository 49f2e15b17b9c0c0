"""query audit log and subjects' authorizations

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import credit_common.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "query_audit",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("at", credit_common.db.UTCDateTime(), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("subject_key", sa.String(80), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("purpose", sa.String(200), nullable=False),
        sa.Column("what", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("authorization_id", sa.String(36), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_query_audit_subject", "query_audit", ["subject_key", "at"])
    op.create_index("ix_query_audit_client", "query_audit", ["client_id", "at"])
    op.create_table(
        "authorizations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("subject_key", sa.String(80), nullable=False),
        sa.Column("grantee_client_id", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(200), nullable=False),
        sa.Column("expires_at", credit_common.db.UTCDateTime(), nullable=False),
        sa.Column("created_at", credit_common.db.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("revoked_at", credit_common.db.UTCDateTime(), nullable=True),
    )
    op.create_index("ix_authorizations_subject_key", "authorizations", ["subject_key"])
    if op.get_bind().dialect.name == "postgresql":
        # Append-only: the database itself refuses to change or delete an audit entry.
        op.execute(
            "CREATE FUNCTION query_audit_append_only() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'the query audit log is append-only'; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER query_audit_append_only BEFORE UPDATE OR DELETE ON query_audit "
            "FOR EACH ROW EXECUTE FUNCTION query_audit_append_only()"
        )
    else:
        op.execute(
            "CREATE TRIGGER query_audit_no_update BEFORE UPDATE ON query_audit "
            "BEGIN SELECT RAISE(ABORT, 'the query audit log is append-only'); END"
        )
        op.execute(
            "CREATE TRIGGER query_audit_no_delete BEFORE DELETE ON query_audit "
            "BEGIN SELECT RAISE(ABORT, 'the query audit log is append-only'); END"
        )


def downgrade() -> None:
    op.drop_table("authorizations")
    op.drop_table("query_audit")
