"""The objections service's tables."""

from __future__ import annotations

import sqlalchemy as sa

from credit_common.db import GUID, UTCDateTime
from credit_common.outbox import outbox_table, processed_events_table

metadata = sa.MetaData()
JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
OPEN_ONLY = sa.text("closed_at IS NULL")
MISSED = sa.text("missed_due_at IS NOT NULL")


def _case_columns() -> list[sa.Column[object]]:
    """Columns objections and repair applications share."""
    return [
        sa.Column("id", GUID(), primary_key=True),
        sa.Column("target_kind", sa.String(16), nullable=False),
        sa.Column("target_id", sa.String(64), nullable=False),
        sa.Column("subject_id", GUID(), nullable=False),
        # Unified code, or the registry's keyed hash of a person's identity number.
        sa.Column("subject_key", sa.String(80), nullable=False),
        sa.Column("natural_person", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        # Bumped by every step: an UPDATE ... WHERE version = ? refuses a lost race.
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("filed_by", sa.String(64), nullable=False),
        sa.Column("filed_department", sa.String(64), nullable=False),
        sa.Column("filed_at", UTCDateTime(), nullable=False),
        # The end of the current stage's due date; NULL once closed. The overdue listing
        # and the handler's "due soonest" view read it through an index.
        sa.Column("due_at", UTCDateTime(), nullable=True),
        # The first due date a step came after, kept: the case stays overdue (API.md).
        sa.Column("missed_due_at", UTCDateTime(), nullable=True),
        sa.Column("calendar_note", sa.String(300), nullable=False, server_default=""),
        sa.Column("decision", sa.String(16), nullable=False, server_default=""),
        sa.Column("decision_reason", sa.String(2000), nullable=False, server_default=""),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    ]


objections = sa.Table(
    "objections",
    metadata,
    *_case_columns(),
    sa.Column("reason", sa.String(2000), nullable=False),
    # The department that produced the target and verifies it.
    sa.Column("source_department", sa.String(64), nullable=False),
    sa.Column("accept_due", sa.Date(), nullable=False),
    sa.Column("verify_due", sa.Date(), nullable=True),
    sa.Column("decide_due", sa.Date(), nullable=True),
    sa.Column("finding", sa.String(16), nullable=False, server_default=""),
    sa.Column("corrected_fields", JSON, nullable=True),
    sa.Column("verification_note", sa.String(2000), nullable=False, server_default=""),
    sa.Index("ix_objections_due", "due_at", "id"),
    sa.Index("ix_objections_missed", "missed_due_at", sqlite_where=MISSED, postgresql_where=MISSED),
    sa.Index("ix_objections_department_due", "source_department", "due_at"),
    sa.Index("ix_objections_subject", "subject_id", "filed_at"),
    sa.Index("ix_objections_filer", "filed_by", "filed_at"),
    # One open objection per target and filer; also finds a vanished target's open ones.
    sa.Index(
        "uq_objections_open_per_filer",
        "target_kind",
        "target_id",
        "filed_by",
        unique=True,
        sqlite_where=OPEN_ONLY,
        postgresql_where=OPEN_ONLY,
    ),
)

repairs = sa.Table(
    "repairs",
    metadata,
    *_case_columns(),
    sa.Column("grounds", sa.String(2000), nullable=False),
    sa.Column("commitment", sa.Boolean(), nullable=False),
    sa.Column("decide_due", sa.Date(), nullable=False),
    sa.Index("ix_repairs_due", "due_at", "id"),
    sa.Index("ix_repairs_missed", "missed_due_at", sqlite_where=MISSED, postgresql_where=MISSED),
    sa.Index("ix_repairs_subject", "subject_id", "filed_at"),
    sa.Index("ix_repairs_filer", "filed_by", "filed_at"),
    # One open application per target.
    sa.Index(
        "uq_repairs_open_per_target",
        "target_kind",
        "target_id",
        unique=True,
        sqlite_where=OPEN_ONLY,
        postgresql_where=OPEN_ONLY,
    ),
)


# Targets the objections service heard are gone (a record withdrawn, an entry no longer
# listed): a filing that committed after their open cases were closed would stay open
# for good, so a filing checks here, under the same lock as the closing (`lock_target`).
vanished_targets = sa.Table(
    "vanished_targets",
    metadata,
    sa.Column("target_kind", sa.String(16), primary_key=True),
    sa.Column("target_id", sa.String(64), primary_key=True),
    sa.Column("vanished_at", UTCDateTime(), nullable=False),
    sa.Column("reason", sa.String(2000), nullable=False),
)


# Subjects merged into another, each with its survivor as it now stands (a chain of merges
# followed to its end): a filing that resolved the duplicate before the merge was heard is
# filed under the survivor (`lock_subject` orders the two).
merged_subjects = sa.Table(
    "merged_subjects",
    metadata,
    sa.Column("duplicate_id", GUID(), primary_key=True),
    sa.Column("survivor_id", GUID(), nullable=False, index=True),
    sa.Column("survivor_key", sa.String(80), nullable=False),
    sa.Column("merged_at", UTCDateTime(), nullable=False),
)


def _transitions(name: str, parent: str) -> sa.Table:
    """Every step of a case: who, when, why, with what evidence."""
    return sa.Table(
        name,
        metadata,
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("case_id", GUID(), sa.ForeignKey(f"{parent}.id"), nullable=False, index=True),
        sa.Column("from_state", sa.String(16), nullable=False),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(2000), nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("detail", sa.String(200), nullable=False, server_default=""),
    )


objection_transitions = _transitions("objection_transitions", "objections")
repair_transitions = _transitions("repair_transitions", "repairs")

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
