"""List periods counted as the Civil Code counts them (arts. 201-202): from the day after
the proposal (the proposal's own day when it begins at midnight), ending at midnight in
China after the last day; whole years end on the same date, whatever leap day lies within."""

from __future__ import annotations

import datetime as dt

import pytest

from credit_common.timeutil import CHINA
from credit_lists.domain.model import ListType, period_end, takes_effect, validity


def china(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=CHINA)


@pytest.mark.parametrize(
    ("after", "days", "end"),
    [
        # Ten days of publicity from a proposal at 15:00 on 1 November: 2-11 November.
        (china(2026, 11, 1, 15), 10, china(2026, 11, 12)),
        (china(2026, 11, 1, 23, 59), 10, china(2026, 11, 12)),
        # Listed from the first moment of a day: that day counts.
        (china(2026, 11, 12), 10, china(2026, 11, 22)),
        # Two years over 29 February 2028: to 1 November 2028 inclusive, not 31 October.
        (china(2026, 11, 1, 15), 730, china(2028, 11, 2)),
        (china(2026, 11, 12), 1095, china(2029, 11, 12)),
        # From 29 February, a year ends on the 28th (the month has no 29th).
        (china(2024, 2, 29), 365, china(2025, 3, 1)),
        (china(2024, 2, 28, 10), 365, china(2025, 3, 1)),
        # From a day's first moment, whole years end as that day's date comes round,
        # whatever 29 February lies within: 1 March to 29 February inclusive.
        (china(2025, 3, 1), 1095, china(2028, 3, 1)),
        (china(2027, 3, 1), 365, china(2028, 3, 1)),
        (china(2028, 2, 29), 1460, china(2032, 2, 29)),
        (china(2028, 2, 29), 730, china(2030, 3, 1)),
        # From the day of the event (not counted), on that date: 1 March 2025 to 28 February
        # 2028 inclusive.
        (china(2025, 2, 28, 10), 1095, china(2028, 2, 29)),
        (china(2026, 11, 12), 0, china(2026, 11, 12)),
        (china(2026, 1, 1, 8), 90, china(2026, 4, 2)),
        (china(9999, 6, 1, 8), 36500, dt.datetime.max.replace(tzinfo=dt.UTC)),
        (china(9999, 6, 1), 365, dt.datetime.max.replace(tzinfo=dt.UTC)),
        (china(9998, 6, 1), 365, china(9999, 6, 1)),
    ],
)
def test_a_period_ends_at_midnight_in_china_after_its_last_day(
    after: dt.datetime, days: int, end: dt.datetime
) -> None:
    assert period_end(after, days) == end


def list_type(publicity: int, duration: int, maximum: int = 0) -> ListType:
    return ListType(
        list_type="serious_illegal_dishonest",
        name="严重违法失信名单",
        color="black",
        authority_department="market_regulation",
        publicity_days=publicity,
        default_duration_days=duration,
        min_days_before_repair=365,
        repairable=True,
        basis="",
        max_duration_days=maximum,
    )


def test_an_entry_takes_effect_when_its_publicity_is_over_and_lasts_its_years() -> None:
    serious = list_type(10, 1095, 1095)
    proposed = china(2026, 11, 1, 15)
    start = takes_effect(serious, proposed)
    assert start == china(2026, 11, 12)
    assert validity(serious, start, None, proposed) == (china(2029, 11, 12), [])
    # The lawful end of three years is within the type's maximum of 1,095 days.
    assert validity(serious, start, china(2029, 11, 12), proposed)[1] == []
    assert validity(serious, start, china(2029, 11, 12, 0, 1), proposed)[1] == [
        ("valid_until", "longer than the type's maximum of 1095 days")
    ]
    assert takes_effect(list_type(0, 730), proposed) == proposed


def test_three_years_from_the_first_of_march_end_on_the_first_of_march_over_a_leap_day() -> None:
    serious = list_type(10, 1095, 1095)
    proposed = china(2025, 2, 18, 15)
    start = takes_effect(serious, proposed)
    assert start == china(2025, 3, 1)
    assert validity(serious, start, None, proposed) == (china(2028, 3, 1), [])
    assert validity(serious, start, china(2028, 3, 1), proposed)[1] == []
    assert validity(serious, start, china(2028, 3, 1, 0, 1), proposed)[1] == [
        ("valid_until", "longer than the type's maximum of 1095 days")
    ]
