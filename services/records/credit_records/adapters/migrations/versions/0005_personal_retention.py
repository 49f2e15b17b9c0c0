"""a natural person's negative records leave every level but restricted five years on

Negative personal information is kept 5 years after the conduct ends, then leaves every
level but `restricted` (征信业管理条例 art. 16). Records made before this release kept a
natural person's negative record for the item's retention after its publicity, as for an
organisation. This caps their stored `retention_until` at the fifth anniversary of the
decision (the same date five years on; 29 February gives 28 February), for the items whose
current definition is negative and the subjects whose key is a person's ("P" and 64 hex
digits). A record kept shorter is left as it is. The dates it replaces are worked out
again from each record's item and fields, so the downgrade leaves them.

Revision ID: 0005
Revises: 0004
"""

import calendar
import datetime as dt
import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PERSON = "subject_key LIKE 'P%' AND length(subject_key) = 65"


def _negative_items(bind: sa.Connection) -> list[str]:
    rows = bind.execute(
        sa.text(
            "SELECT v.item_code, v.definition FROM catalog_versions v JOIN catalog_items i"
            " ON i.item_code = v.item_code AND i.current_version = v.version"
        )
    )
    codes = []
    for code, definition in rows:
        value = json.loads(definition) if isinstance(definition, str) else definition
        if value.get("nature") == "negative":
            codes.append(code)
    return codes


def _fifth_anniversary(day: dt.date) -> dt.date:
    year = day.year + 5
    return day.replace(year=year, day=min(day.day, calendar.monthrange(year, day.month)[1]))


def upgrade() -> None:
    bind = op.get_bind()
    codes = _negative_items(bind)
    if not codes:
        return
    items = sa.bindparam("codes", codes, expanding=True)
    if bind.dialect.name == "postgresql":
        bind.execute(
            sa.text(
                "UPDATE records SET retention_until = (decided_on + interval '5 years')::date"
                f" WHERE item_code IN :codes AND {_PERSON}"
                " AND retention_until > (decided_on + interval '5 years')::date"
            ).bindparams(items)
        )
        return
    rows = bind.execute(
        sa.text(
            f"SELECT id, decided_on, retention_until FROM records WHERE item_code IN :codes"
            f" AND {_PERSON}"
        ).bindparams(items)
    ).all()
    changes = []
    for record_id, decided_on, retention_until in rows:
        cap = _fifth_anniversary(dt.date.fromisoformat(str(decided_on)))
        if dt.date.fromisoformat(str(retention_until)) > cap:
            changes.append({"id": record_id, "until": cap.isoformat()})
    if changes:
        bind.execute(sa.text("UPDATE records SET retention_until = :until WHERE id = :id"), changes)


def downgrade() -> None:
    pass
