"""The records service's tables."""

from __future__ import annotations

import sqlalchemy as sa

from credit_common.db import GUID, UTCDateTime
from credit_common.merges import merged_subjects_table
from credit_common.outbox import outbox_table, processed_events_table
from credit_common.record_rules import MAX_SEVERITY

metadata = sa.MetaData()
JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")

catalog_items = sa.Table(
    "catalog_items",
    metadata,
    sa.Column("item_code", sa.String(64), primary_key=True),
    sa.Column("current_version", sa.Integer(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# Every version of an item's definition is kept: records name the version they were checked against.
catalog_versions = sa.Table(
    "catalog_versions",
    metadata,
    sa.Column(
        "item_code", sa.String(64), sa.ForeignKey("catalog_items.item_code"), primary_key=True
    ),
    sa.Column("version", sa.Integer(), primary_key=True),
    sa.Column("definition", JSON, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
)

records = sa.Table(
    "records",
    metadata,
    sa.Column("id", GUID(), primary_key=True),
    sa.Column("subject_id", GUID(), nullable=False),
    # Unified code, or the registry's keyed hash of a person's identity number.
    sa.Column("subject_key", sa.String(80), nullable=False),
    sa.Column("item_code", sa.String(64), sa.ForeignKey("catalog_items.item_code"), nullable=False),
    sa.Column("department", sa.String(64), nullable=False),
    sa.Column("source_ref", sa.String(200), nullable=False),
    sa.Column("decided_on", sa.Date(), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("current_version", sa.Integer(), nullable=False),
    sa.Column("severity", sa.String(MAX_SEVERITY), nullable=False, server_default=""),
    sa.Column("never_public", sa.Boolean(), nullable=False),
    sa.Column("publicity_until", sa.Date(), nullable=True),
    sa.Column("retention_until", sa.Date(), nullable=False),
    sa.Column("repairable", sa.Boolean(), nullable=False),
    sa.Column("repair_possible_from", sa.Date(), nullable=True),
    sa.Column("late", sa.Boolean(), nullable=False),
    sa.Column("submitted_at", UTCDateTime(), nullable=False),
    sa.Column("submitted_by", sa.String(64), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("withdrawn_at", UTCDateTime(), nullable=True),
    sa.Column("repaired_at", UTCDateTime(), nullable=True),
    sa.Column("open_objections", sa.Integer(), nullable=False, server_default="0"),
    # A "while listed" item's record (court_dishonest): when the listings it is the basis
    # of end (the latest end of them; NULL while one has no end or none is known yet).
    # Worked out from record_listings as the lists service's events arrive (migration 0003).
    sa.Column("unlisted_at", UTCDateTime(), nullable=True),
    # When record.expired was written for it (its retention over); NULL while it lasts, or
    # lasts again (a correction or a listing moved its retention later; migration 0011).
    sa.Column("expiry_told_at", UTCDateTime(), nullable=True),
    # source_ref first: the duplicate check looks up many refs of one department and item
    # (migration 0002; SQLite keeps the first order).
    sa.UniqueConstraint("source_ref", "item_code", "department", name="uq_records_source_ref"),
    sa.Index("ix_records_subject", "subject_id", "submitted_at"),
)

# The records whose expiry is yet to be told, by the last day they are kept: the sweep
# reads the ones past it, a few rows of an index that holds only the untold (migration 0011).
_UNTOLD = records.c.expiry_told_at.is_(None) & records.c.withdrawn_at.is_(None)
sa.Index(
    "ix_records_expiry_due",
    records.c.retention_until,
    postgresql_where=_UNTOLD,
    sqlite_where=_UNTOLD,
)

record_versions = sa.Table(
    "record_versions",
    metadata,
    sa.Column("record_id", GUID(), sa.ForeignKey("records.id"), primary_key=True),
    sa.Column("version", sa.Integer(), primary_key=True),
    sa.Column("fields", JSON, nullable=False),
    sa.Column("schema_version", sa.Integer(), nullable=False),
    sa.Column("recorded_at", UTCDateTime(), nullable=False),
    sa.Column("recorded_by", sa.String(64), nullable=False),
    sa.Column("department", sa.String(64), nullable=False),
    # Text: an upheld objection's or a repair's reason (2,000 characters) with what caused
    # it before it (migration 0004; 500 characters refused it on PostgreSQL).
    sa.Column("reason", sa.Text(), nullable=False, server_default=""),
)

# Every status change (withdrawn, repaired, merged into another subject) with who and why.
record_history = sa.Table(
    "record_history",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("record_id", GUID(), sa.ForeignKey("records.id"), nullable=False, index=True),
    sa.Column("change", sa.String(32), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    # Text: an upheld objection's or a repair's reason (2,000 characters) with what caused
    # it before it (migration 0004; 500 characters refused it on PostgreSQL).
    sa.Column("reason", sa.Text(), nullable=False, server_default=""),
    sa.Column("detail", sa.String(200), nullable=False, server_default=""),
)

# Objections marking a record, with when the mark was set and cleared (for as-of reads).
objection_marks = sa.Table(
    "objection_marks",
    metadata,
    sa.Column("record_id", GUID(), sa.ForeignKey("records.id"), primary_key=True),
    sa.Column("objection_id", sa.String(64), primary_key=True),
    sa.Column("opened_at", UTCDateTime(), nullable=False),
    sa.Column("closed_at", UTCDateTime(), nullable=True),
)

# The list entries a "while listed" record is the basis of, as the lists service told them:
# each one's end (its validity, or the moment it was removed, withdrawn or expired; NULL:
# no end), whether it has ended, and the moment of the event that told it. An ended entry
# is never made current again, nor a later end replaced, by an event older than the last
# (a parked event applied late; migration 0004).
record_listings = sa.Table(
    "record_listings",
    metadata,
    sa.Column("record_id", GUID(), sa.ForeignKey("records.id"), primary_key=True),
    sa.Column("entry_id", sa.String(64), primary_key=True),
    sa.Column("ends_at", UTCDateTime(), nullable=True),
    sa.Column("ended", sa.Boolean(), nullable=False),
    sa.Column("told_at", UTCDateTime(), nullable=False),
)

# Subjects merged into another (subject.merged), each to the survivor it now stands for
# (a chain followed to its end: A into B heard after B into C leads A to C). A record
# stored for a merged subject (the registry's answer cached, or given just before the
# merge) is moved to its survivor in the storing transaction; reads never look here
# (migration 0010).
merged_subjects = merged_subjects_table(metadata)

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
