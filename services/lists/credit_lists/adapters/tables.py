"""The lists service's tables."""

from __future__ import annotations

import sqlalchemy as sa

from credit_common.db import GUID, UTCDateTime
from credit_common.merges import merged_subjects_table
from credit_common.outbox import outbox_table, processed_events_table

metadata = sa.MetaData()
JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")

# List types and measures: every version kept, the current one named.
definitions = sa.Table(
    "definitions",
    metadata,
    sa.Column("kind", sa.String(16), primary_key=True),  # list_type | measure
    sa.Column("code", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer(), primary_key=True),
    sa.Column("current", sa.Boolean(), nullable=False),
    sa.Column("definition", JSON, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
)

entries = sa.Table(
    "entries",
    metadata,
    sa.Column("id", GUID(), primary_key=True),
    sa.Column("subject_id", GUID(), nullable=False, index=True),
    sa.Column("subject_key", sa.String(80), nullable=False),
    sa.Column("list_type", sa.String(64), nullable=False),
    sa.Column("color", sa.String(8), nullable=False),
    sa.Column("department", sa.String(64), nullable=False),
    sa.Column("reason", sa.String(1000), nullable=False),
    sa.Column("decision_ref", sa.String(200), nullable=False),
    sa.Column("proposed_by", sa.String(64), nullable=False),
    sa.Column("proposed_at", UTCDateTime(), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("publicity_until", UTCDateTime(), nullable=False),
    sa.Column("valid_until", UTCDateTime(), nullable=True),
    sa.Column("effective_from", UTCDateTime(), nullable=True),
    sa.Column("open_objections", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("repairable", sa.Boolean(), nullable=False),
    sa.Column("repair_possible_from", UTCDateTime(), nullable=True),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    # The clock's work: entries in publicity by the end of it, effective ones by validity.
    sa.Index(
        "ix_entries_publicity_due",
        "publicity_until",
        postgresql_where=sa.text("state = 'publicity'"),
        sqlite_where=sa.text("state = 'publicity'"),
    ),
    sa.Index(
        "ix_entries_validity_due",
        "valid_until",
        postgresql_where=sa.text("state = 'effective'"),
        sqlite_where=sa.text("state = 'effective'"),
    ),
    sa.Index("ix_entries_type_state", "list_type", "state"),
)

entry_basis = sa.Table(
    "entry_basis",
    metadata,
    sa.Column("entry_id", GUID(), sa.ForeignKey("entries.id"), primary_key=True),
    sa.Column("record_id", sa.String(36), primary_key=True),
    sa.Index("ix_entry_basis_record", "record_id"),
)

entry_history = sa.Table(
    "entry_history",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("entry_id", GUID(), sa.ForeignKey("entries.id"), nullable=False, index=True),
    sa.Column("from_state", sa.String(16), nullable=False),
    sa.Column("to_state", sa.String(16), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    # Text: a removal's reason may quote an objection's or a repair's decision (2,000
    # characters, with what caused it before them; migration 0003).
    sa.Column("reason", sa.Text(), nullable=False),
)

# Objections heard of, one row each: a closing heard before its filing is kept closed, so
# that the late filing does not hold the entry in publicity for good.
entry_objections = sa.Table(
    "entry_objections",
    metadata,
    sa.Column("entry_id", GUID(), sa.ForeignKey("entries.id"), primary_key=True),
    sa.Column("objection_id", sa.String(64), primary_key=True),
    sa.Column("opened_at", UTCDateTime(), nullable=False),
    sa.Column("closed_at", UTCDateTime(), nullable=True),
)

# Records heard of by the events about them or by the entries resting on them, one row each,
# written first by what reads it (record.created's listing rules, a new entry on the
# record, record.withdrawn): a withdrawal heard before the record's creation (the consumer
# takes a failed event again later, after the ones that followed it) is remembered, so the
# late creation lists nobody on a record that no longer stands. On PostgreSQL the row is
# also what makes two replicas handling both at once take turns (migration 0004).
heard_records = sa.Table(
    "heard_records",
    metadata,
    sa.Column("record_id", sa.String(36), primary_key=True),
    sa.Column("withdrawn_at", UTCDateTime(), nullable=True),
)

# Subjects merged into another (subject.merged), each to the survivor it now stands for:
# one merged since is followed, so a chain heard in reverse order (B into C, then A into
# B) still leads to C. Every entry is stored under a subject not merged, so reads (status,
# the restriction check) never look here (migration 0004).
merged_subjects = merged_subjects_table(metadata)

feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", GUID(), primary_key=True),
    sa.Column("entry_id", GUID(), sa.ForeignKey("entries.id"), nullable=False),
    sa.Column("measure_code", sa.String(64), nullable=False),
    sa.Column("department", sa.String(64), nullable=False),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("applied_on", sa.Date(), nullable=False),
    sa.Column("month", sa.String(7), nullable=False),
    sa.Column("outcome", sa.String(200), nullable=False),
    sa.Column("note", sa.String(1000), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Index("ix_feedback_stats", "measure_code", "department", "month"),
)

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
