"""content hashes of the records as they now stand, whole numbers written as integers

A source_ref sent again answers the existing record when its content is the record's
(API.md). The stored content hash, which that is decided by, was made once, from the
record as first stored, and no longer answered for:
- a record sent alone, whose numbers a protobuf Struct makes doubles: its hash was of
  `2025.0` where the same row sent in bulk gives `2025` (content hashes now write a whole
  number as an integer, however it came);
- a record moved to a survivor by a merge: its hash named the duplicate, while a row sent
  again for the duplicate's code resolves to the survivor;
- a corrected record: its hash was of the first version's fields, not of the current ones.
Each record's hash is made anew from its current version's fields, its subject, item and
decision date, as the records service now makes it; only those that differ are written.
Every record is read once, a few thousand at a time in id order (about a minute a million
records); stop the old records pods before it runs, so that none stores a hash by the old
rule after it. The downgrade leaves the hashes: the old rule's are the ones that were wrong.

Revision ID: 0007
Revises: 0006
"""

import hashlib
import json
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000


def _whole_numbers(value: Any) -> Any:
    """As credit_records.domain.records.canonical_json writes numbers: a whole-number float
    as the integer its shortest decimal text writes."""
    if type(value) is float:
        if not value.is_integer():
            return value
        return int(value) if -1e16 < value < 1e16 else int(Decimal(repr(value)))
    if isinstance(value, dict):
        return {key: _whole_numbers(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(inner) for inner in value]
    return value


def content_hash(subject_id: Any, item_code: str, decided_on: Any, fields: Any) -> str:
    """SHA-256 of `[subject id, item code, decision date, fields]` as compact JSON with
    sorted keys (credit_records.domain.records.content_hash)."""
    text = json.dumps(
        [str(uuid.UUID(str(subject_id))), item_code, str(decided_on)[:10], _whole_numbers(fields)],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(text.encode()).hexdigest()


def upgrade() -> None:
    bind = op.get_bind()
    select = sa.text(
        "SELECT r.id, r.subject_id, r.item_code, r.decided_on, r.content_hash,"
        " CAST(v.fields AS TEXT) FROM records r JOIN record_versions v"
        " ON v.record_id = r.id AND v.version = r.current_version"
        " WHERE r.id > :after ORDER BY r.id LIMIT :batch"
    )
    update = sa.text("UPDATE records SET content_hash = :hash WHERE id = :id")
    # Below every id: the nil UUID (PostgreSQL), or its 36-character text (SQLite).
    after: Any = uuid.UUID(int=0) if bind.dialect.name == "postgresql" else str(uuid.UUID(int=0))
    while True:
        rows = bind.execute(select, {"after": after, "batch": BATCH}).all()
        changes = []
        for record_id, subject_id, item_code, decided_on, stored, fields in rows:
            made = content_hash(subject_id, item_code, decided_on, json.loads(fields))
            if made != stored:
                changes.append({"id": record_id, "hash": made})
        if changes:
            bind.execute(update, changes)
        if len(rows) < BATCH:
            return
        after = rows[-1][0]


def downgrade() -> None:
    pass
