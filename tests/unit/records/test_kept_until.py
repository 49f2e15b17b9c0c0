"""What storing a record's last day kept writes: its expiry counted as not told again
only when that day is today or later in China."""

from __future__ import annotations

import datetime as dt

from credit_records.adapters.repository import kept_until

# 00:30 on 30 November in China.
NOW = dt.datetime(2026, 11, 29, 16, 30, tzinfo=dt.UTC)


def test_a_day_today_or_later_in_china_makes_the_record_last_again() -> None:
    for day in (dt.date(2026, 11, 30), dt.date(2031, 1, 1), dt.date.max):
        assert kept_until(day, NOW) == {"retention_until": day, "expiry_told_at": None}


def test_a_day_already_over_in_china_leaves_its_expiry_as_told() -> None:
    # Still 29 November in UTC, but over in China.
    for day in (dt.date(2026, 11, 29), dt.date(2020, 1, 1)):
        assert kept_until(day, NOW) == {"retention_until": day}
