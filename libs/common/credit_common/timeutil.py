"""Time helpers: everything is timezone-aware UTC inside the platform."""

from __future__ import annotations

import calendar
import datetime as dt
import re

UTC = dt.UTC
# China Standard Time: the days that publicity windows and deadlines count in.
CHINA = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")


# A date as the API writes it: YYYY-MM-DD alone (fromisoformat also takes 20260501 and
# the week date 2026-W18-5; pydantic a Unix time). ASCII digits: \d takes others too.
ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
NOT_A_DAY = "expected a date such as 2026-05-01 (YYYY-MM-DD)"


def iso_day(text: object) -> dt.date | None:
    """The date `text` writes as YYYY-MM-DD, or None (another form, or no such day)."""
    if not (isinstance(text, str) and ISO_DAY.fullmatch(text)):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:  # 2026-02-30
        return None


def china_date(moment: dt.datetime) -> dt.date:
    """The calendar date in China at a moment: decision dates, publicity windows, working-day
    deadlines and birth dates are Chinese dates."""
    return moment.astimezone(CHINA).date()


def china_day_start(day: dt.date) -> dt.datetime:
    """The moment (UTC) a day begins in China."""
    return dt.datetime.combine(day, dt.time(), CHINA).astimezone(UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


def as_utc(value: dt.datetime) -> dt.datetime:
    """Returns the moment in UTC; a naive value is refused rather than guessed."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: a time zone is required")
    return value.astimezone(UTC)


def rfc3339(value: dt.datetime | None) -> str:
    return "" if value is None else as_utc(value).isoformat().replace("+00:00", "Z")


def parse_rfc3339(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return as_utc(value)


def days_on(day: dt.date, days: int) -> dt.date:
    """The day `days` days after `day`, counting a whole number of years (a multiple of 365
    days: the lists' "2 years" is 730, the catalog's "5 years" 1825) as calendar years, so
    that a leap day does not end the period a day early (29 February to 28 February in a
    common year); 9999-12-31 for any day past it."""
    try:
        if days and days % 365 == 0:
            year = day.year + days // 365
            return day.replace(year=year, day=min(day.day, calendar.monthrange(year, day.month)[1]))
        return day + dt.timedelta(days=days)
    except (OverflowError, ValueError):  # past 9999-12-31
        return dt.date.max
