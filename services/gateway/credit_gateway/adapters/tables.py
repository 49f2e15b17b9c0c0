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
