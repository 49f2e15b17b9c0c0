"""index subjects by id with the columns a name search filters on

A fragment that many names contain (有限公司 is in half of them) is answered from the
first rows in id order (ids are random, so any run of them is a fair sample of all
names) instead of collecting every match through the trigram index and sorting them.
The index carries the columns the search filters on, so that walk never visits the table.
SQLite walks its primary key index: an embedded registry is small.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX IF NOT EXISTS ix_subjects_search_sample ON subjects (id) "
            "INCLUDE (name, kind, status, division_code, code_key)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_subjects_search_sample", "subjects")
