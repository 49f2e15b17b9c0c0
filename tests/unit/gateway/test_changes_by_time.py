"""When a kept public answer stops being true without an event."""

from __future__ import annotations

import datetime as dt

from credit_common.timeutil import CHINA
from credit_gateway.entrypoints.caching import changes_by_time


def test_a_window_to_the_last_date_never_closes() -> None:
    """A licence valid until 9999-12-31 is public for good (its next day overflowed)."""
    assert changes_by_time([dt.date.max]) is None
    soon = dt.date(2030, 5, 1)
    assert changes_by_time([dt.date.max, soon]) == dt.datetime(2030, 5, 2, tzinfo=CHINA)
