"""repair possible from the day after the minimum publicity, not on its last day

A record's `repair_possible_from` was the last day of its minimum publicity (or, for a
penalty that may not be repaired, the last day of its maximum): a repair applied for on
that day was accepted a day early. The Civil Code (arts. 201-202) ends a period on its
last day, and repair comes after it. Every stored date was made by that one rule, so each
moves one day on; 9999-12-31 (a window that never ends) stays. It runs before 0004 (which
alters the table): the UPDATE holds no lock that stops reads, and the ALTER's exclusive
lock, taken last in the one migration transaction, is held only briefly.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHERE = "repair_possible_from IS NOT NULL AND repair_possible_from < '9999-12-31'"


def _shift(days: int) -> None:
    if op.get_bind().dialect.name == "postgresql":
        change = f"repair_possible_from + {days}"
    else:  # SQLite keeps dates as YYYY-MM-DD text
        change = f"date(repair_possible_from, '{days:+d} day')"
    op.execute(f"UPDATE records SET repair_possible_from = {change} WHERE {_WHERE}")


def upgrade() -> None:
    _shift(1)


def downgrade() -> None:
    _shift(-1)
