"""An entry its objections held past its publicity takes effect when they end, and its
periods count again from the first day it then counts: whole years come round to that
day's date, whatever 29 February lies within; other periods are put off the whole days
it was held."""

from __future__ import annotations

import datetime as dt

import pytest

from credit_common.timeutil import CHINA
from credit_lists.domain.model import recounted_end

LAST = dt.datetime.max.replace(tzinfo=dt.UTC)


def china(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=CHINA)


@pytest.mark.parametrize(
    ("end", "publicity_until", "now", "moved"),
    [
        # Three years from 20 February 2025; held until 1 March (in the day): three years
        # from 2 March, not the 2 March 2028 that ten days more would give.
        (china(2028, 2, 20), china(2025, 2, 20), china(2025, 3, 1, 10), china(2028, 3, 2)),
        # A year from 20 February 2027, held until 28 February (in the day): from 1 March
        # 2027 to 29 February 2028 inclusive.
        (china(2028, 2, 20), china(2027, 2, 20), china(2027, 2, 28, 10), china(2028, 3, 1)),
        # Held until the first moment of a day: that day counts.
        (china(2028, 2, 20), china(2027, 2, 20), china(2027, 3, 1), china(2028, 3, 1)),
        # Not whole years (90 days, or an end asked for): put off the whole days held.
        (china(2025, 5, 21), china(2025, 2, 20), china(2025, 3, 1, 10), china(2025, 5, 31)),
        (china(2028, 2, 25), china(2025, 2, 20), china(2025, 3, 1, 10), china(2028, 3, 6)),
        # No end, or none before the last moment there is, stays so.
        (None, china(2025, 2, 20), china(2025, 3, 1, 10), None),
        (LAST, china(2025, 2, 20), china(2025, 3, 1, 10), LAST),
    ],
)
def test_a_held_entrys_periods_count_again_from_the_day_after_it_takes_effect(
    end: dt.datetime | None,
    publicity_until: dt.datetime,
    now: dt.datetime,
    moved: dt.datetime | None,
) -> None:
    assert recounted_end(end, publicity_until, now) == moved
