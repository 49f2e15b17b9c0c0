"""Working-day arithmetic on the Chinese calendar, make-up workdays (调休) included.

The records service uses it to mark late publications ("within 7 working days of the
decision") and the objections service to set due dates ("within 2 working days of
filing").

Convention: "within N working days of day D" means due at the end of
``add_workdays(D, N)``. Day D itself is never counted: the first working day is the
first one *after* D. So a decision on Friday 2026-03-06 plus 7 working days is due at
the end of Tuesday 2026-03-17, and ``workdays_between(D, due) == N``.

Where the official calendar has no data (the ``chinesecalendar`` package covers
2004-2026), a year is taken as Monday-Friday. This is never silent: every answer is a
:class:`Result` whose ``fallback_years`` names the years assumed and whose ``note`` says
so in words, and a WARNING is logged once per year (per calendar instance; the shared
``DEFAULT_CALENDAR`` makes that once per process).

Speed: each year is turned lazily, once, into a sorted list of its working days
(day ordinals); a lookup is then a bisection. ``workdays_between`` costs O(log n) for
the years at its ends plus O(1) per whole year in between, and ``add_workdays`` moves a
year at a time rather than a day at a time.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import chinese_calendar

__all__ = ["DEFAULT_CALENDAR", "HolidaySource", "Result", "WorkCalendar"]

log = logging.getLogger(__name__)

T = TypeVar("T")

HolidaySource = Callable[[dt.date], bool]
"""Says whether a date is a working day; raises NotImplementedError for a year it does
not know (as ``chinese_calendar.is_workday`` does)."""


def _default_source(day: dt.date) -> bool:
    return bool(chinese_calendar.is_workday(day))


def _year_span(years: tuple[int, ...]) -> str:
    """2027, 2028, 2029, 2031 -> "2027-2029, 2031"."""
    parts: list[str] = []
    first = prev = years[0]
    for year in (*years[1:], None):
        if year is not None and year == prev + 1:
            prev = year
            continue
        parts.append(str(first) if first == prev else f"{first}-{prev}")
        if year is not None:
            first = prev = year
    return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Result(Generic[T]):
    """An answer and the years for which Monday-Friday had to be assumed."""

    value: T
    fallback_years: tuple[int, ...] = ()

    @property
    def note(self) -> str:
        """ "" when the official calendar covered everything, else a sentence saying which
        years were assumed Monday-Friday (fit to show a user next to a due date)."""
        if not self.fallback_years:
            return ""
        return (
            f"no official holiday calendar for {_year_span(self.fallback_years)}: "
            "Monday-Friday assumed"
        )


@dataclass(frozen=True, slots=True)
class _Year:
    workdays: list[int]  # sorted ordinals of the year's working days
    fallback: bool


_REMEMBERED = 4096  # workdays_between answers kept (a few days of decision dates × today)


class WorkCalendar:
    """Working days by the official calendar, Monday-Friday where it has no data.

    ``holiday_source(day) -> bool`` says whether ``day`` is a working day and raises
    NotImplementedError for a year it has no data for; it defaults to
    ``chinese_calendar.is_workday``. If it raises for any day of a year, the whole year
    is taken as Monday-Friday.
    """

    def __init__(self, holiday_source: HolidaySource | None = None) -> None:
        self._source: HolidaySource = holiday_source or _default_source
        self._years: dict[int, _Year] = {}
        # Answers of workdays_between: a bulk load asks it for every row, about the same
        # few decision dates and today (5 µs an answer worked out, 0.2 µs remembered).
        self._between: dict[tuple[dt.date, dt.date], Result[int]] = {}
        self._lock = threading.Lock()

    # -- the per-year index -------------------------------------------------------

    def _year(self, year: int) -> _Year:
        cached = self._years.get(year)
        if cached is not None:
            return cached
        with self._lock:
            cached = self._years.get(year)
            if cached is None:
                cached = self._build(year)
                self._years[year] = cached
            return cached

    def _build(self, year: int) -> _Year:
        first = dt.date(year, 1, 1).toordinal()
        last = dt.date(year, 12, 31).toordinal()
        try:
            days = [o for o in range(first, last + 1) if self._source(dt.date.fromordinal(o))]
            return _Year(days, fallback=False)
        except NotImplementedError:
            log.warning(
                "no official holiday calendar for %d: Monday-Friday assumed for working days",
                year,
            )
            # date.weekday() == (ordinal - 1) % 7, Monday being 0.
            days = [o for o in range(first, last + 1) if (o - 1) % 7 < 5]
            return _Year(days, fallback=True)

    def _fallbacks(self, first: dt.date, last: dt.date) -> tuple[int, ...]:
        """The fallback years among those the dates first..last touch."""
        return tuple(y for y in range(first.year, last.year + 1) if self._year(y).fallback)

    # -- the API -------------------------------------------------------------------

    def is_workday(self, d: dt.date) -> bool:
        """Whether ``d`` is a working day (a make-up Saturday or Sunday is one)."""
        days = self._year(d.year).workdays
        o = d.toordinal()
        i = bisect_left(days, o)
        return i < len(days) and days[i] == o

    def add_workdays(self, start: dt.date, n: int) -> Result[dt.date]:
        """The ``n``-th working day after ``start``, ``start`` itself not counted.

        "Within N working days of filing on day D" means due at the end of
        ``add_workdays(D, N)``. For ``n == 0`` the answer is ``start`` when it is a
        working day, otherwise the next working day. ``n`` must not be negative;
        OverflowError if the answer would fall after year 9999.
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        year = start.year
        days = self._year(year).workdays
        o = start.toordinal()
        # Index in this year's list of the working day wanted (0-based).
        index = bisect_left(days, o) if n == 0 else bisect_right(days, o) + n - 1
        while index >= len(days):
            index -= len(days)
            year += 1
            if year > dt.MAXYEAR:
                raise OverflowError(f"{n} working days after {start} is past year 9999")
            days = self._year(year).workdays
        result = dt.date.fromordinal(days[index])
        first = start if n == 0 else start + dt.timedelta(days=1)
        return Result(result, self._fallbacks(first, result))

    def workdays_between(self, start: dt.date, end: dt.date) -> Result[int]:
        """How many working days fall after ``start`` up to and including ``end``.

        0 when ``end <= start``. The inverse of :meth:`add_workdays`:
        ``workdays_between(d, add_workdays(d, n).value).value == n`` for every ``n >= 1``,
        and for ``n == 0`` when ``d`` is a working day (from a non-working ``d``,
        ``add_workdays(d, 0)`` is the next working day, which this counts as 1).
        """
        if end <= start:
            return Result(0)
        key = (start, end)
        known = self._between.get(key)
        if known is None:
            known = self._count_between(start, end)
            if len(self._between) >= _REMEMBERED:
                self._between.clear()
            self._between[key] = known
        return known

    def _count_between(self, start: dt.date, end: dt.date) -> Result[int]:
        s, e = start.toordinal(), end.toordinal()
        if start.year == end.year:
            days = self._year(start.year).workdays
            count = bisect_right(days, e) - bisect_right(days, s)
        else:
            days = self._year(start.year).workdays
            count = len(days) - bisect_right(days, s)
            for year in range(start.year + 1, end.year):
                count += len(self._year(year).workdays)
            count += bisect_right(self._year(end.year).workdays, e)
        return Result(count, self._fallbacks(start + dt.timedelta(days=1), end))


DEFAULT_CALENDAR = WorkCalendar()
"""The calendar of ``chinese_calendar``; its per-year caches are shared by its users."""
