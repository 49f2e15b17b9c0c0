import datetime as dt
import logging

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credit_common.workdays import DEFAULT_CALENDAR, Result, WorkCalendar

D = dt.date


def no_data_at_all(day: dt.date) -> bool:
    raise NotImplementedError(f"no data for {day.year}")


def official_except_2026(day: dt.date) -> bool:
    if day.year == 2026:
        raise NotImplementedError("no data for 2026")
    return bool(chinese_calendar.is_workday(day))


# -- the official 2026 calendar ------------------------------------------------------


def test_national_day_2026_is_seven_days_of_holiday() -> None:
    for day in range(1, 8):
        assert not DEFAULT_CALENDAR.is_workday(D(2026, 10, day))
    assert DEFAULT_CALENDAR.is_workday(D(2026, 10, 8))


def test_a_make_up_weekend_day_counts_as_a_workday() -> None:
    make_up = [
        d for d in chinese_calendar.get_workdays(D(2026, 1, 1), D(2026, 12, 31)) if d.weekday() >= 5
    ]
    assert D(2026, 10, 10) in make_up  # the Saturday after National Day
    assert D(2026, 10, 10).weekday() == 5
    for day in make_up:
        assert DEFAULT_CALENDAR.is_workday(day), day


def test_a_weekday_holiday_is_not_a_workday() -> None:
    assert D(2026, 10, 1).weekday() == 3  # a Thursday
    assert not DEFAULT_CALENDAR.is_workday(D(2026, 10, 1))


def test_an_ordinary_weekend_is_not_a_workday() -> None:
    assert not DEFAULT_CALENDAR.is_workday(D(2026, 3, 7))
    assert not DEFAULT_CALENDAR.is_workday(D(2026, 3, 8))


def test_is_workday_agrees_with_chinese_calendar_for_every_day_of_2024_to_2026() -> None:
    day = D(2024, 1, 1)
    while day <= D(2026, 12, 31):
        assert DEFAULT_CALENDAR.is_workday(day) == chinese_calendar.is_workday(day), day
        day += dt.timedelta(days=1)


# -- add_workdays --------------------------------------------------------------------


def test_filing_before_the_spring_festival_is_due_after_it_counting_the_make_up_saturday() -> None:
    # Thu 2026-02-12: Fri 13 (1), make-up Sat 14 (2), holidays 15-23, Tue 24 (3), 25 (4), 26 (5).
    result = DEFAULT_CALENDAR.add_workdays(D(2026, 2, 12), 5)
    assert result.value == D(2026, 2, 26)
    assert result.fallback_years == ()
    assert result.note == ""


def test_the_day_before_the_spring_festival_plus_one_working_day_is_the_make_up_saturday() -> None:
    assert DEFAULT_CALENDAR.add_workdays(D(2026, 2, 13), 1).value == D(2026, 2, 14)
    assert DEFAULT_CALENDAR.add_workdays(D(2026, 2, 13), 2).value == D(2026, 2, 24)


def test_a_decision_on_an_ordinary_friday_plus_seven_working_days_is_the_tuesday_week_after() -> (
    None
):
    assert D(2026, 3, 6).weekday() == 4
    assert DEFAULT_CALENDAR.add_workdays(D(2026, 3, 6), 7) == Result(D(2026, 3, 17))


def test_a_decision_on_a_friday_before_national_day_counts_the_make_up_sunday() -> None:
    # Fri 2026-09-18: make-up Sun 20 (1), 21-24 (2-5), Mid-Autumn 25-27, 28 (6), 29 (7).
    assert D(2026, 9, 20).weekday() == 6
    assert DEFAULT_CALENDAR.add_workdays(D(2026, 9, 18), 7).value == D(2026, 9, 29)


def test_a_decision_on_a_friday_holiday_is_due_after_national_day() -> None:
    # Fri 2026-09-25 (Mid-Autumn): 28-30 (1-3), 10-01..07 off, 8 (4), 9 (5), Sat 10 (6), 12 (7).
    assert DEFAULT_CALENDAR.add_workdays(D(2026, 9, 25), 7).value == D(2026, 10, 12)


def test_add_workdays_does_not_count_the_start_day() -> None:
    assert DEFAULT_CALENDAR.add_workdays(D(2026, 3, 9), 1).value == D(2026, 3, 10)


def test_zero_working_days_from_a_workday_is_that_day() -> None:
    assert DEFAULT_CALENDAR.add_workdays(D(2026, 3, 9), 0).value == D(2026, 3, 9)
    assert DEFAULT_CALENDAR.add_workdays(D(2026, 10, 10), 0).value == D(2026, 10, 10)


def test_zero_working_days_from_a_holiday_is_the_next_workday() -> None:
    assert DEFAULT_CALENDAR.add_workdays(D(2026, 10, 3), 0).value == D(2026, 10, 8)
    assert DEFAULT_CALENDAR.add_workdays(D(2026, 3, 7), 0).value == D(2026, 3, 9)


def test_zero_working_days_from_the_last_workday_of_2026_needs_no_fallback() -> None:
    assert DEFAULT_CALENDAR.add_workdays(D(2026, 12, 31), 0) == Result(D(2026, 12, 31))


def test_a_negative_number_of_working_days_is_refused() -> None:
    with pytest.raises(ValueError):
        DEFAULT_CALENDAR.add_workdays(D(2026, 3, 9), -1)


def test_add_workdays_past_year_9999_overflows() -> None:
    calendar = WorkCalendar(no_data_at_all)
    with pytest.raises(OverflowError):
        calendar.add_workdays(D(9999, 12, 30), 5)


def test_a_large_number_of_working_days_spans_years() -> None:
    result = DEFAULT_CALENDAR.add_workdays(D(2024, 1, 1), 1000)
    assert DEFAULT_CALENDAR.workdays_between(D(2024, 1, 1), result.value).value == 1000
    assert result.value.year == 2027
    assert result.fallback_years == (2027,)


# -- the fallback past the end of the data ------------------------------------------


def test_five_working_days_from_2026_12_30_cross_into_2027_on_monday_to_friday() -> None:
    # Thu 31 (1), Fri 2027-01-01 assumed a workday (2), Mon 4 (3), Tue 5 (4), Wed 6 (5).
    result = DEFAULT_CALENDAR.add_workdays(D(2026, 12, 30), 5)
    assert result.value == D(2027, 1, 6)
    assert result.fallback_years == (2027,)
    assert "2027" in result.note
    assert result.note == "no official holiday calendar for 2027: Monday-Friday assumed"


def test_a_year_without_data_is_logged_once_as_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calendar = WorkCalendar()
    with caplog.at_level(logging.WARNING, logger="credit_common.workdays"):
        calendar.add_workdays(D(2026, 12, 30), 5)
        calendar.workdays_between(D(2027, 1, 1), D(2027, 6, 1))
        calendar.is_workday(D(2027, 3, 3))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "2027" in warnings[0].getMessage()


def test_a_year_with_data_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    calendar = WorkCalendar()
    with caplog.at_level(logging.WARNING, logger="credit_common.workdays"):
        calendar.add_workdays(D(2026, 2, 12), 5)
    assert caplog.records == []


def test_a_source_with_no_data_at_all_gives_pure_monday_to_friday() -> None:
    calendar = WorkCalendar(no_data_at_all)
    assert calendar.is_workday(D(2026, 10, 1))  # National Day, a Thursday
    assert not calendar.is_workday(D(2026, 10, 10))  # the make-up Saturday
    result = calendar.add_workdays(D(2026, 3, 6), 7)
    assert result.value == D(2026, 3, 17)
    assert result.fallback_years == (2026,)
    between = calendar.workdays_between(D(2025, 1, 1), D(2027, 1, 1))
    assert between.fallback_years == (2025, 2026, 2027)
    assert between.note == "no official holiday calendar for 2025-2027: Monday-Friday assumed"
    # 2025 from Jan 2 (Thu): 260 weekdays; 2026: 261; 2027-01-01 is a Friday: 1.
    assert between.value == 260 + 261 + 1


def test_a_simulated_year_without_data_falls_back_for_that_year_only() -> None:
    calendar = WorkCalendar(official_except_2026)
    assert calendar.is_workday(D(2026, 10, 1))
    assert not calendar.is_workday(D(2025, 10, 1))
    result = calendar.workdays_between(D(2025, 12, 1), D(2026, 1, 31))
    assert result.fallback_years == (2026,)
    assert result.note == "no official holiday calendar for 2026: Monday-Friday assumed"


def test_the_note_is_empty_when_no_year_fell_back() -> None:
    assert Result(3).note == ""


def test_the_note_lists_separate_years_and_runs() -> None:
    note = Result(0, (2027, 2028, 2029, 2031)).note
    assert note == "no official holiday calendar for 2027-2029, 2031: Monday-Friday assumed"


def test_only_years_inside_the_span_are_reported_as_fallback() -> None:
    calendar = WorkCalendar(official_except_2026)
    # The span after 2026-12-31 holds no day of 2026, so only 2027 is reported.
    result = calendar.workdays_between(D(2026, 12, 31), D(2027, 1, 5))
    assert result.fallback_years == (2027,)
    assert calendar.add_workdays(D(2025, 12, 30), 1) == Result(D(2025, 12, 31))


# -- workdays_between ----------------------------------------------------------------


def test_workdays_between_counts_after_start_up_to_and_including_end() -> None:
    assert DEFAULT_CALENDAR.workdays_between(D(2026, 3, 9), D(2026, 3, 10)).value == 1
    assert DEFAULT_CALENDAR.workdays_between(D(2026, 3, 6), D(2026, 3, 17)).value == 7


def test_workdays_between_is_zero_when_end_is_not_after_start() -> None:
    assert DEFAULT_CALENDAR.workdays_between(D(2026, 3, 9), D(2026, 3, 9)) == Result(0)
    assert DEFAULT_CALENDAR.workdays_between(D(2026, 3, 9), D(2026, 3, 1)) == Result(0)
    assert DEFAULT_CALENDAR.workdays_between(D(2027, 3, 9), D(2027, 3, 1)) == Result(0)


def test_workdays_between_across_new_year_2026_counts_the_make_up_sunday() -> None:
    # Wed 2025-12-31; 2026-01-01..03 off; Sun 4 make-up (1); Mon 5 (2).
    assert D(2026, 1, 4).weekday() == 6
    assert DEFAULT_CALENDAR.workdays_between(D(2025, 12, 31), D(2026, 1, 5)) == Result(2)


def test_workdays_between_across_2026_and_2027_reports_the_fallback() -> None:
    # 2026-12-28..31 (4) + 2027-01-01, 04-08 (6).
    result = DEFAULT_CALENDAR.workdays_between(D(2026, 12, 25), D(2027, 1, 8))
    assert result.value == 10
    assert result.fallback_years == (2027,)
    assert "2027" in result.note


def test_workdays_between_over_several_years_matches_a_day_by_day_count() -> None:
    start, end = D(2019, 6, 15), D(2026, 8, 20)
    expected = sum(
        1
        for o in range(start.toordinal() + 1, end.toordinal() + 1)
        if chinese_calendar.is_workday(D.fromordinal(o))
    )
    assert DEFAULT_CALENDAR.workdays_between(start, end) == Result(expected)


# -- properties ----------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    start=st.dates(min_value=D(2024, 1, 1), max_value=D(2027, 12, 31)),
    n=st.integers(min_value=0, max_value=400),
)
def test_workdays_between_undoes_add_workdays(start: dt.date, n: int) -> None:
    due = DEFAULT_CALENDAR.add_workdays(start, n)
    assert DEFAULT_CALENDAR.is_workday(due.value)
    assert due.value >= start
    between = DEFAULT_CALENDAR.workdays_between(start, due.value)
    if n == 0 and not DEFAULT_CALENDAR.is_workday(start):
        # The n = 0 convention rolls a non-working start forward to the next working
        # day, which lies one working day after start.
        assert between.value == 1
    else:
        assert between.value == n
    if due.value > start:
        assert between.fallback_years == due.fallback_years
    else:
        assert between == Result(0)


def test_zero_working_days_from_a_holiday_is_one_working_day_after_it() -> None:
    due = DEFAULT_CALENDAR.add_workdays(D(2026, 10, 3), 0).value
    assert DEFAULT_CALENDAR.workdays_between(D(2026, 10, 3), due).value == 1


@settings(max_examples=200, deadline=None)
@given(
    start=st.dates(min_value=D(2024, 1, 1), max_value=D(2026, 9, 30)),
    n=st.integers(min_value=0, max_value=60),
)
def test_add_workdays_matches_stepping_day_by_day_through_chinese_calendar(
    start: dt.date, n: int
) -> None:
    day = start if n == 0 else start + dt.timedelta(days=1)
    remaining = n
    while True:
        if chinese_calendar.is_workday(day):
            if remaining <= 1:
                break
            remaining -= 1
        day += dt.timedelta(days=1)
    assert DEFAULT_CALENDAR.add_workdays(start, n) == Result(day)
