"""Publicity and retention arithmetic, and what a level sees at a moment."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from credit_common.timeutil import days_on
from credit_records.domain.catalog import CatalogItem, Level, PublicityRule


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)
    and to the last day there is: a window past 9999-12-31 never ends."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    if year > dt.MAXYEAR:
        return dt.date.max
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def add_days(day: dt.date, days: int) -> dt.date:
    """`days` later, or the last day there is (9999-12-31) when that is sooner: a licence
    valid until 9999-12-31 (长期有效) is a common value, and its record is kept for good."""
    if days > (dt.date.max - day).days:
        return dt.date.max
    return day + dt.timedelta(days=days)


DEADLINE_FIELD = "publicity_deadline"
"""The deciding authority's own last day of publicity (双公示 CF_GSJZQ): a penalty's
publicity ends on it when it lies within the severity's minimum and maximum; absent, the
maximum is the end."""


def _severity_bounds(
    rule: PublicityRule, decided_on: dt.date, fields: dict[str, Any]
) -> tuple[dt.date, dt.date] | None:
    """The last days of the minimum and of the maximum publicity of the record's severity
    (the earliest and latest ends it may have), or None when the severity is not published."""
    if rule.kind != "by_severity":
        return None
    window = rule.by_severity.get(str(fields.get("severity", "")))
    if window is None or not window.publish:
        return None
    return add_months(decided_on, window.min_months), add_months(decided_on, window.max_months)


def deadline_problem(item: CatalogItem, decided_on: dt.date, fields: dict[str, Any]) -> str:
    """Why a stated publicity deadline may not stand ("" when it may, or none is stated)."""
    deadline = _parse_date(fields.get(DEADLINE_FIELD))
    if deadline is None:  # most rows state none: nothing to work out (a bulk load's rows)
        return ""
    bounds = _severity_bounds(item.publicity, decided_on, fields)
    if bounds is None or bounds[0] <= deadline <= bounds[1]:
        return ""
    return (
        f"{deadline} is outside the publicity of a {fields.get('severity')} penalty decided on "
        f"{decided_on}: from {bounds[0]} to {bounds[1]}"
    )


@dataclass(frozen=True)
class Window:
    """When a record is public, until when it is kept, and whether it may be repaired."""

    never_public: bool
    publicity_until: dt.date | None  # None: public without an end (while active)
    retention_until: dt.date
    repairable: bool
    repair_possible_from: dt.date | None
    severity: str


def _parse_date(value: Any) -> dt.date | None:
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


# Negative personal information is kept 5 years after the conduct ends, then leaves every
# level but restricted (征信业管理条例 art. 16).
PERSONAL_NEGATIVE_MONTHS = 60


def window_for(
    item: CatalogItem, decided_on: dt.date, fields: dict[str, Any], *, personal: bool = False
) -> Window:
    """Periods count as the Civil Code counts them (arts. 201-202): from the day after the
    decision, a period of months ending on the same day of its last month (or that month's
    last day), so that day is the last public day. Repair is possible "after the minimum":
    from the day after the minimum period's last day. A natural person's negative record
    (`personal`) is kept to the fifth anniversary of the end of its conduct at most (see
    `conduct_ended`): of its decision, or for a "while listed" one, of its listings' end.

    Retention runs from the end of publicity. A window without an end of its own (a
    "while listed" record, a licence without `valid_until`) is kept while it lasts: its
    retention has no end (9999-12-31) until the end is known (`with_publicity_end`)."""
    rule = item.publicity
    severity = str(fields.get("severity", ""))
    never_public = item.disclosure != Level.PUBLIC
    until: dt.date | None = None
    repair_from: dt.date | None = None
    if rule.kind == "fixed":
        if rule.months:
            until = add_months(decided_on, rule.months)
        else:
            until = add_days(decided_on, rule.days)
        if rule.min_days:
            repair_from = add_days(decided_on, rule.min_days + 1)
    elif rule.kind == "field_until":
        until = _parse_date(fields.get(rule.until_field))
    elif rule.kind == "by_severity":
        bounds = _severity_bounds(rule, decided_on, fields)
        if bounds is None:
            never_public = True
            until = decided_on
        else:
            first, last = bounds
            # A stated deadline within the window is the end; one outside it (a correction an
            # upheld objection brought) is held to the window.
            stated = _parse_date(fields.get(DEADLINE_FIELD))
            until = last if stated is None else min(max(stated, first), last)
            repair_from = add_days(first, 1)
    elif rule.kind == "none":
        never_public = True
        until = decided_on
    kinds = set(fields.get("penalty_kinds") or [])
    # A record never published has no publication for a repair to end (a shared-only item,
    # a minor penalty): not repairable, whatever its item allows for published ones.
    repairable = (
        item.repairable and not never_public and not (kinds & set(item.non_repairable_kinds))
    )
    if not repairable:
        repair_from = (
            add_days(until, 1)
            if until and rule.kind == "by_severity" and not never_public
            else None
        )
    window = Window(
        never_public=never_public,
        publicity_until=until,
        retention_until=_retention(item, decided_on, until),
        repairable=repairable,
        repair_possible_from=repair_from,
        severity=severity,
    )
    if not personal:
        return window
    return personal_cap(window, item, conduct_ended(item, decided_on, None), lambda: fields)


def _retention(item: CatalogItem, decided_on: dt.date, last_public: dt.date | None) -> dt.date:
    """The last day a record is kept whose publicity ends on `last_public` (None: no end
    known, so none to count from: kept): the item's retention after it, whole years (1825
    days, "5 years") as calendar years."""
    if last_public is None:
        return dt.date.max
    return days_on(max(last_public, decided_on), item.retention_days)


def with_publicity_end(
    window: Window, item: CatalogItem, decided_on: dt.date, last_public: dt.date | None
) -> Window:
    """`window` for a record whose publicity has no end of its own (a "while listed"
    record) once its last public day is known from elsewhere (its listings' end): kept for
    the item's retention after that day; while none is known (None), kept without end. A
    window with an end of its own is returned as it is. Worked out when the record is read
    (for a past version too) and stored when its listings' end changes; the personal cap
    applies after it."""
    if window.publicity_until is not None:
        return window
    until = _retention(item, decided_on, last_public)
    return window if until == window.retention_until else replace(window, retention_until=until)


def conduct_ended(
    item: CatalogItem, decided_on: dt.date, last_public: dt.date | None
) -> dt.date | None:
    """The last day of the conduct a record shows, as far as the records know it: for a
    "while listed" record the last day of its listings (`last_public`: a court lists a
    debtor until it performs), None while it is still listed; for any other, the decision
    that found the conduct (the records hold no later end of it)."""
    if item.publicity.kind == "while_active":
        return None if last_public is None else max(last_public, decided_on)
    return decided_on


def personal_cap(
    window: Window,
    item: CatalogItem,
    conduct_end: dt.date | None,
    fields: Callable[[], dict[str, Any]],
) -> Window:
    """A natural person's record under `window`: a negative one is kept to the fifth
    anniversary of the end of its conduct (`conduct_ended`) at most, and while its conduct
    goes on (None), without that cap. Applied when a record is stored and again when it is
    read, so that an item made negative later (or a nature by value) counts too."""
    if conduct_end is None or item.nature_of(fields) != "negative":
        return window
    cap = add_months(conduct_end, PERSONAL_NEGATIVE_MONTHS)
    return window if window.retention_until <= cap else replace(window, retention_until=cap)


@dataclass(frozen=True)
class Moment:
    """What is true of a record at the moment asked about."""

    withdrawn: bool
    repaired: bool
    # A "while listed" record whose listings have ended.
    unlisted: bool = False


def status_at(window: Window, versions: int, moment: Moment, day: dt.date) -> str:
    if moment.withdrawn:
        return "withdrawn"
    if day > window.retention_until:
        return "expired"
    return "corrected" if versions > 1 else "active"


def publicly_visible(window: Window, moment: Moment, day: dt.date) -> bool:
    """Whether the public level sees the record that day (its item disclosed `public`):
    not once it has expired, even with its publicity open (a natural person's negative
    record past its fifth year)."""
    if window.never_public or moment.withdrawn or moment.repaired or moment.unlisted:
        return False
    if day > window.retention_until:
        return False
    return window.publicity_until is None or day <= window.publicity_until


def visible_at(
    item: CatalogItem, window: Window, moment: Moment, day: dt.date, level: Level
) -> bool:
    """Whether a level sees the record on that day (API.md, query levels)."""
    if level == Level.RESTRICTED:
        return True
    if item.disclosure > level:
        return False
    if moment.withdrawn or day > window.retention_until:
        return False
    if level == Level.PUBLIC:
        return publicly_visible(window, moment, day)
    return True
