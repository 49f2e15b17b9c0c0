"""a record public without an end of its own is kept while it lasts, then for its retention

A "while listed" record (court_dishonest) is public while its listings last, a licence
without `valid_until` while it is valid (DOMAIN.md); after publicity a record stays at
`shared` and above for its item's retention. Records made before this release counted that
retention from the decision when their publicity had no end of its own (publicity_until
NULL): a record still listed left every level but restricted five years after its
decision, and one whose listings ended was kept a few months past their end. This stores
for each such record 9999-12-31 (kept) while no end of its listings is known, else the
item's retention (its current definition's `retention_days`) after the last public day,
the day in China before the moment its listings end (`unlisted_at`); and, for a natural
person's negative record (the item's current nature; keys "P" and 64 hex digits), at most
the fifth anniversary of its decision, as 0005 does. Reads work the same out from
`unlisted_at` whatever is stored: the stored date is what a record shows until read. One
UPDATE per item on PostgreSQL. The downgrade stores the former rule's dates again.

Revision ID: 0006
Revises: 0005
"""

import calendar
import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PERSON = "subject_key LIKE 'P%' AND length(subject_key) = 65"
_LAST = dt.date.max
_CHINA = dt.timedelta(hours=8)


def _items(bind: sa.Connection) -> dict[str, tuple[int, bool]]:
    """(retention days, negative) of each item by its current definition."""
    rows = bind.execute(
        sa.text(
            "SELECT v.item_code, v.definition FROM catalog_versions v JOIN catalog_items i"
            " ON i.item_code = v.item_code AND i.current_version = v.version"
        )
    )
    items = {}
    for code, definition in rows:
        value: dict[str, Any] = (
            json.loads(definition) if isinstance(definition, str) else definition
        )
        items[code] = (int(value.get("retention_days", 1826)), value.get("nature") == "negative")
    return items


def _fifth_anniversary(day: dt.date) -> dt.date:
    year = day.year + 5
    return day.replace(year=year, day=min(day.day, calendar.monthrange(year, day.month)[1]))


def _add_days(day: dt.date, days: int) -> dt.date:
    return _LAST if days > (_LAST - day).days else day + dt.timedelta(days=days)


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _kept(
    decided_on: dt.date, unlisted_at: Any, days: int, capped: bool, *, former: bool
) -> dt.date:
    """The last day kept: the former rule counts from the decision; this one from the last
    public day once known (the China day before `unlisted_at`, a naive UTC time on SQLite)."""
    if former:
        until = _add_days(decided_on, days)
    elif unlisted_at is None:
        until = _LAST
    else:
        moment = dt.datetime.fromisoformat(str(unlisted_at)).replace(tzinfo=None)
        last = (moment + _CHINA - dt.timedelta(microseconds=1)).date()
        until = _add_days(max(last, decided_on), days)
    return min(until, _fifth_anniversary(decided_on)) if capped else until


def _postgresql(bind: sa.Connection, code: str, days: int, negative: bool, former: bool) -> None:
    if former:
        kept = "decided_on + CAST(:days AS integer)"
    else:
        last = (
            "((unlisted_at AT TIME ZONE 'UTC') + interval '8 hours'"
            " - interval '1 microsecond')::date"
        )
        kept = (
            "CASE WHEN unlisted_at IS NULL THEN DATE '9999-12-31'"
            f" ELSE LEAST(GREATEST({last}, decided_on) + CAST(:days AS integer), DATE '9999-12-31')"
            " END"
        )
    if negative:
        kept = (
            f"LEAST({kept}, CASE WHEN {_PERSON} THEN (decided_on + interval '5 years')::date"
            " ELSE DATE '9999-12-31' END)"
        )
    bind.execute(
        sa.text(
            f"UPDATE records SET retention_until = {kept}"
            " WHERE item_code = :code AND publicity_until IS NULL"
            f" AND retention_until <> {kept}"
        ),
        {"code": code, "days": days},
    )


def _change(former: bool) -> None:
    bind = op.get_bind()
    items = _items(bind)
    if bind.dialect.name == "postgresql":
        for code, (days, negative) in items.items():
            _postgresql(bind, code, days, negative, former)
        return
    rows = bind.execute(
        sa.text(
            "SELECT id, item_code, subject_key, decided_on, unlisted_at, retention_until"
            " FROM records WHERE publicity_until IS NULL"
        )
    ).all()
    changes = []
    for record_id, code, key, decided_on, unlisted_at, retention_until in rows:
        days, negative = items.get(code, (1826, False))
        capped = negative and key.startswith("P") and len(key) == 65
        until = _kept(_date(decided_on), unlisted_at, days, capped, former=former)
        if until != _date(retention_until):
            changes.append({"id": record_id, "until": until.isoformat()})
    if changes:
        bind.execute(sa.text("UPDATE records SET retention_until = :until WHERE id = :id"), changes)


def upgrade() -> None:
    _change(former=False)


def downgrade() -> None:
    _change(former=True)
