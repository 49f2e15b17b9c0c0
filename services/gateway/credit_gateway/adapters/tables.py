"""The gateway's tables: API clients and token signing keys."""

from __future__ import annotations

import sqlalchemy as sa

from credit_common.db import UTCDateTime

metadata = sa.MetaData()

clients = sa.Table(
    "clients",
    metadata,
    sa.Column("client_id", sa.String(64), primary_key=True),
    sa.Column("secret_hash", sa.String(200), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("department", sa.String(64), nullable=False),
    sa.Column("scopes", sa.String(500), nullable=False),
    sa.Column("subject_code", sa.String(32), nullable=False, server_default=""),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
    sa.Column("rate_per_second", sa.Float(), nullable=True),
    sa.Column("rate_burst", sa.Integer(), nullable=True),
)

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("kid", sa.String(64), primary_key=True),
    sa.Column("private_pem", sa.Text(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    # Retired keys still verify tokens until they expire, but sign nothing new.
    sa.Column("retired_at", UTCDateTime(), nullable=True),
)

# Every read of credit information, append-only and chained: each entry's hash covers the
# previous entry's hash, so a changed or deleted entry breaks the chain.
query_audit = sa.Table(
    "query_audit",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("department", sa.String(64), nullable=False),
    # The unified code, or the registry's keyed hash of a person's identity number.
    sa.Column("subject_key", sa.String(80), nullable=False),
    sa.Column("level", sa.String(16), nullable=False),
    sa.Column("purpose", sa.String(200), nullable=False),
    sa.Column("what", sa.String(64), nullable=False),
    sa.Column("request_id", sa.String(128), nullable=False),
    sa.Column("authorization_id", sa.String(36), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index("ix_query_audit_subject", "subject_key", "at"),
    sa.Index("ix_query_audit_client", "client_id", "at"),
)

# A subject's grant of its authorized level to one client, for a purpose, until a date.
authorizations = sa.Table(
    "authorizations",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("subject_key", sa.String(80), nullable=False, index=True),
    sa.Column("grantee_client_id", sa.String(64), nullable=False),
    sa.Column("purpose", sa.String(200), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
)
