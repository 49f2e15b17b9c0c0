"""Periods given in days: a whole number of years (a multiple of 365) counts as calendar
years, across 29 February too; any other number as days."""

from __future__ import annotations

import datetime as dt

import pytest

from credit_common.timeutil import days_on


@pytest.mark.parametrize(
    ("day", "days", "expected"),
    [
        # Five years (the catalog's retention), across two 29 Februaries: 1826 days would
        # end a day early.
        (dt.date(2028, 1, 30), 1825, dt.date(2033, 1, 30)),
        (dt.date(2026, 3, 1), 1825, dt.date(2031, 3, 1)),
        # From 29 February to 28 February in a common year.
        (dt.date(2028, 2, 29), 730, dt.date(2030, 2, 28)),
        (dt.date(2028, 2, 29), 1460, dt.date(2032, 2, 29)),
        # Other numbers are days.
        (dt.date(2026, 3, 1), 1826, dt.date(2031, 3, 1)),  # one 29 February on the way
        (dt.date(2026, 3, 1), 10, dt.date(2026, 3, 11)),
        (dt.date(2026, 3, 1), 0, dt.date(2026, 3, 1)),
        # Past the last day there is: that day.
        (dt.date(9998, 6, 1), 730, dt.date.max),
        (dt.date(9999, 12, 1), 100, dt.date.max),
    ],
)
def test_whole_years_are_calendar_years(day: dt.date, days: int, expected: dt.date) -> None:
    assert days_on(day, days) == expected
