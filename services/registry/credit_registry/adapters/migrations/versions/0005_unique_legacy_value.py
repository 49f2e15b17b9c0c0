"""one subject per legacy code value, whatever its type

Lookups go by value alone, and one value can be valid under two types
(310115000000107 is both a registration number and a tax registration number): mapped
to two subjects, a lookup by it answered with either. The unique index replaces the plain
one on value. Values already mapped more than once stop the upgrade, named with their
subjects: which subject a value means is for a person to decide, and no mapping is
deleted here.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAMED = 50  # duplicated values named in the message; the rest are counted


def upgrade() -> None:
    duplicated = op.get_bind().execute(
        sa.text(
            "SELECT value, type, subject_id FROM legacy_codes WHERE value IN "
            "(SELECT value FROM legacy_codes GROUP BY value HAVING count(*) > 1) "
            "ORDER BY value, type"
        )
    )
    mappings: dict[str, list[str]] = {}
    for value, type_, subject_id in duplicated:
        mappings.setdefault(value, []).append(f"{type_} of subject {subject_id}")
    if mappings:
        named = [f"{value} ({'; '.join(held)})" for value, held in list(mappings.items())[:_NAMED]]
        more = len(mappings) - len(named)
        raise RuntimeError(
            f"{len(mappings)} legacy code value(s) are mapped more than once: "
            + ", ".join(named)
            + (f", and {more} more" if more else "")
            + ". Keep one mapping of each (delete the others from legacy_codes), then "
            "upgrade again."
        )
    op.drop_index("ix_legacy_codes_value", "legacy_codes")
    op.create_index("uq_legacy_codes_value", "legacy_codes", ["value"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_legacy_codes_value", "legacy_codes")
    op.create_index("ix_legacy_codes_value", "legacy_codes", ["value"])
