"""The registry's tables."""

from __future__ import annotations

import sqlalchemy as sa

from credit_common.db import GUID, UTCDateTime
from credit_common.outbox import outbox_table, processed_events_table

metadata = sa.MetaData()

subjects = sa.Table(
    "subjects",
    metadata,
    sa.Column("id", GUID(), primary_key=True),
    # The unified code, or for a natural person "P" + HMAC of the identity number.
    sa.Column("code_key", sa.String(80), nullable=False, unique=True),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("registration_authority", sa.String(1), nullable=False, server_default=""),
    sa.Column("org_category", sa.String(1), nullable=False, server_default=""),
    sa.Column("division_code", sa.String(6), nullable=False, server_default=""),
    sa.Column("org_code", sa.String(9), nullable=True),
    sa.Column("legal_representative", sa.String(100), nullable=False, server_default=""),
    sa.Column("registered_on", sa.Date(), nullable=True),
    # Natural persons only: the identity number, AES-GCM encrypted.
    sa.Column("id_cipher", sa.LargeBinary(), nullable=True),
    sa.Column("merged_into", GUID(), sa.ForeignKey("subjects.id"), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index("ix_subjects_division_kind", "division_code", "kind"),
    # One subject per organisation code among those not merged (persons have none; a
    # merged duplicate keeps its code, which allocation and registration still pass over;
    # migration 0007).
    sa.Index(
        "uq_subjects_org_code",
        "org_code",
        unique=True,
        postgresql_where=sa.text("merged_into IS NULL"),
        sqlite_where=sa.text("merged_into IS NULL"),
    ),
    sa.Index(
        "ix_subjects_merged_into",
        "merged_into",
        postgresql_where=sa.text("merged_into IS NOT NULL"),
        sqlite_where=sa.text("merged_into IS NOT NULL"),
    ),
)

legacy_codes = sa.Table(
    "legacy_codes",
    metadata,
    sa.Column("type", sa.String(32), primary_key=True),
    sa.Column("value", sa.String(32), primary_key=True),
    sa.Column("subject_id", GUID(), sa.ForeignKey("subjects.id"), nullable=False, index=True),
    # Lookups go by value alone, whatever its type: one value, one subject (0005).
    sa.Index("uq_legacy_codes_value", "value", unique=True),
)

name_history = sa.Table(
    "name_history",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("subject_id", GUID(), sa.ForeignKey("subjects.id"), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("until", UTCDateTime(), nullable=False),
    sa.Column("actor", sa.String(100), nullable=False),
)

status_history = sa.Table(
    "status_history",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("subject_id", GUID(), sa.ForeignKey("subjects.id"), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
)

code_allocator = sa.Table(
    "code_allocator",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("next_value", sa.BigInteger(), nullable=False),
)

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
