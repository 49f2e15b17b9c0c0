"""a record never published is not repairable

A repair ends a record's publication early (信用修复); a record never published (an item
shown at `shared` and above only, such as social_insurance_arrears, or a minor penalty)
has none to end, and the objections service refuses its repair (`not_repairable`). Its
stored `repairable` still said what its catalog item allows, so a record view offered a
repair that would be refused. This clears `repairable` (and any repair date) of the
records stored never public, one UPDATE. The downgrade leaves them: a repair of them was
never possible.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    records = sa.table(
        "records",
        sa.column("never_public", sa.Boolean()),
        sa.column("repairable", sa.Boolean()),
        sa.column("repair_possible_from", sa.Date()),
    )
    op.get_bind().execute(
        sa.update(records)
        .where(records.c.never_public.is_(True), records.c.repairable.is_(True))
        .values(repairable=False, repair_possible_from=None)
    )


def downgrade() -> None:
    pass
