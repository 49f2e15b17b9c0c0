"""a person's record public while listed counts its five years from its listings' end

Negative personal information is kept five years after the conduct ends (DOMAIN.md;
征信业管理条例 art. 16). For a record public "while listed" (court_dishonest) the conduct
goes on while the debtor is listed: 0005 and 0006 capped a natural person's such record at
the fifth anniversary of its decision, so it left every level but restricted while the
person was still listed, or a month after a listing that ran almost five years. Such a
record is now kept while listed (9999-12-31) and, once its listings have ended, to the
earlier of the item's retention after their last day (a multiple of 365 days counted as
calendar years, as the records service now counts it) and that day's fifth anniversary.
Reads work this out from `unlisted_at` whatever is stored; this rewrites the stored date
of the records concerned: a natural person's (keys "P" and 64 hex digits), of an item
whose current definition is negative and public "while_active", that have no end of
publicity of their own. One UPDATE per such item on PostgreSQL. The downgrade stores the
former rule's dates again (0006's).

Revision ID: 0008
Revises: 0007
"""

import calendar
import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PERSON = "subject_key LIKE 'P%' AND length(subject_key) = 65"
_LAST = dt.date.max
_CHINA = dt.timedelta(hours=8)


def _items(bind: sa.Connection) -> dict[str, int]:
    """The retention days of each negative item public while listed, by its current
    definition."""
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
        publicity = value.get("publicity") or {}
        if value.get("nature") == "negative" and publicity.get("kind") == "while_active":
            items[code] = int(value.get("retention_days", 1826))
    return items


def _days_on(day: dt.date, days: int) -> dt.date:
    """As credit_common.timeutil.days_on: a multiple of 365 days is that many calendar
    years (29 February to 28 February), past 9999-12-31 that day."""
    try:
        if days and days % 365 == 0:
            year = day.year + days // 365
            return day.replace(year=year, day=min(day.day, calendar.monthrange(year, day.month)[1]))
        return day + dt.timedelta(days=days)
    except (OverflowError, ValueError):
        return _LAST


def _plain_days(day: dt.date, days: int) -> dt.date:
    return _LAST if days > (_LAST - day).days else day + dt.timedelta(days=days)


def _fifth_anniversary(day: dt.date) -> dt.date:
    year = day.year + 5
    if year > dt.MAXYEAR:
        return _LAST
    return day.replace(year=year, day=min(day.day, calendar.monthrange(year, day.month)[1]))


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _kept(decided_on: dt.date, unlisted_at: Any, days: int, *, former: bool) -> dt.date:
    """The last day kept: from the last public day (the China day before `unlisted_at`, a
    naive UTC time on SQLite) once known, capped at the fifth anniversary of the decision
    (the former rule) or of that day (this one)."""
    if unlisted_at is None:
        until = _LAST
        last = None
    else:
        moment = dt.datetime.fromisoformat(str(unlisted_at)).replace(tzinfo=None)
        last = max((moment + _CHINA - dt.timedelta(microseconds=1)).date(), decided_on)
        # The former rule added days; this one counts whole years as calendar years.
        until = _plain_days(last, days) if former else _days_on(last, days)
    if former:
        return min(until, _fifth_anniversary(decided_on))
    return until if last is None else min(until, _fifth_anniversary(last))


def _postgresql(bind: sa.Connection, code: str, days: int, former: bool) -> None:
    last = (
        "GREATEST(((unlisted_at AT TIME ZONE 'UTC') + interval '8 hours'"
        " - interval '1 microsecond')::date, decided_on)"
    )
    n = "CAST(:days AS integer)"
    if former:  # days added
        after = f"LEAST({last} + {n}, DATE '9999-12-31')"
    else:  # as days_on: a multiple of 365 days is that many calendar years (a year's
        # interval takes 29 February to 28 February)
        after = (
            f"LEAST(CASE WHEN {n} % 365 = 0"
            f" THEN ({last} + make_interval(years => {n} / 365))::date"
            f" ELSE {last} + {n} END, DATE '9999-12-31')"
        )
    if former:
        kept = (
            f"LEAST(CASE WHEN unlisted_at IS NULL THEN DATE '9999-12-31' ELSE {after} END,"
            " (decided_on + interval '5 years')::date)"
        )
    else:
        kept = (
            "CASE WHEN unlisted_at IS NULL THEN DATE '9999-12-31'"
            f" ELSE LEAST({after}, ({last} + interval '5 years')::date) END"
        )
    bind.execute(
        sa.text(
            f"UPDATE records SET retention_until = {kept}"
            f" WHERE item_code = :code AND publicity_until IS NULL AND {_PERSON}"
            f" AND retention_until <> {kept}"
        ),
        {"code": code, "days": days},
    )


def _change(former: bool) -> None:
    bind = op.get_bind()
    items = _items(bind)
    if not items:
        return
    if bind.dialect.name == "postgresql":
        for code, days in items.items():
            _postgresql(bind, code, days, former)
        return
    rows = bind.execute(
        sa.text(
            "SELECT id, item_code, decided_on, unlisted_at, retention_until FROM records"
            f" WHERE publicity_until IS NULL AND {_PERSON} AND item_code IN :codes"
        ).bindparams(sa.bindparam("codes", expanding=True)),
        {"codes": list(items)},
    ).all()
    changes = []
    for record_id, code, decided_on, unlisted_at, retention_until in rows:
        until = _kept(_date(decided_on), unlisted_at, items[code], former=former)
        if until != _date(retention_until):
            changes.append({"id": record_id, "until": until.isoformat()})
    if changes:
        bind.execute(sa.text("UPDATE records SET retention_until = :until WHERE id = :id"), changes)


def upgrade() -> None:
    _change(former=False)


def downgrade() -> None:
    _change(former=True)
