"""one subject per organisation code, among the subjects not merged

A registration refuses an organisation code another subject holds (as its own or as a
legacy code), and allocation passes over the held ones; but an allocation and a
conversion giving the same code at the same moment could both commit, each having looked
before the other wrote. The unique index (partial: a merged duplicate keeps its code,
which allocation and registration still pass over) replaces the plain one on
subjects.org_code, so the later of the two fails and is tried again with another
allocated code (or refused as org_code_taken when the code was given). Codes already held
by more than one subject not merged stop the upgrade, named with their subjects: which
subject holds a code is for a person to decide (merge the duplicates), and nothing is
changed here.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAMED = 50  # duplicated codes named in the message; the rest are counted
_NOT_MERGED = sa.text("merged_into IS NULL")


def upgrade() -> None:
    duplicated = op.get_bind().execute(
        sa.text(
            "SELECT org_code, id FROM subjects WHERE merged_into IS NULL AND org_code IN "
            "(SELECT org_code FROM subjects WHERE org_code IS NOT NULL AND merged_into IS NULL"
            " GROUP BY org_code HAVING count(*) > 1) "
            "ORDER BY org_code, id"
        )
    )
    holders: dict[str, list[str]] = {}
    for org_code, subject_id in duplicated:
        holders.setdefault(org_code, []).append(str(subject_id))
    if holders:
        named = [
            f"{code} (subjects {', '.join(ids)})" for code, ids in list(holders.items())[:_NAMED]
        ]
        more = len(holders) - len(named)
        raise RuntimeError(
            f"{len(holders)} organisation code(s) are held by more than one subject: "
            + ", ".join(named)
            + (f", and {more} more" if more else "")
            + ". Leave each code to one subject (merge the duplicates), then upgrade again."
        )
    op.drop_index("ix_subjects_org_code", "subjects")
    op.create_index(
        "uq_subjects_org_code",
        "subjects",
        ["org_code"],
        unique=True,
        postgresql_where=_NOT_MERGED,
        sqlite_where=_NOT_MERGED,
    )


def downgrade() -> None:
    op.drop_index("uq_subjects_org_code", "subjects")
    op.create_index("ix_subjects_org_code", "subjects", ["org_code"])
