"""the source_ref uniqueness index leads with source_ref

The duplicate check of an upload asks for up to 1,000 source refs of one department and
item at a time. With (department, item_code, source_ref), a planner that thinks the table
is small (a new table, not yet analysed, filling by COPY) walks every record of the
department and item and filters the refs: the upload slows down as it grows. Leading with
source_ref leaves it only the index lookup per ref. SQLite plans each statement with its
values and keeps its own automatic index; the constraint there is unchanged.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "uq_records_source_ref"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_constraint(NAME, "records", type_="unique")
    op.create_unique_constraint(NAME, "records", ["source_ref", "item_code", "department"])


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_constraint(NAME, "records", type_="unique")
    op.create_unique_constraint(NAME, "records", ["department", "item_code", "source_ref"])
