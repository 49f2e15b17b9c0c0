"""Due dates in working days on the Chinese calendar, and overdue, with no I/O."""

from __future__ import annotations

import datetime as dt
import uuid

import chinese_calendar

from credit_common.workdays import DEFAULT_CALENDAR, WorkCalendar
from credit_objections.domain.cases import Actor, Subject, TargetRef
from credit_objections.domain.clock import CHINA, Deadlines, Schedule, end_of
from credit_objections.domain.objections import Objection
from credit_objections.domain.repairs import Repair

D = dt.date
HANDLER = Actor("cl_centre", "development_reform")
SOURCE = Actor("cl_market", "market_regulation")


def china(y: int, m: int, d: int, h: int = 10) -> dt.datetime:
    return dt.datetime(y, m, d, h, tzinfo=CHINA).astimezone(dt.UTC)


def filed_at(at: dt.datetime, schedule: Schedule) -> Objection:
    return Objection.file(
        target=TargetRef("record", str(uuid.uuid4())),
        subject=Subject(uuid.uuid4(), "k", False),
        source_department="market_regulation",
        reason="r",
        evidence=(),
        filer=Actor("cl", "tax"),
        at=at,
        schedule=schedule,
    )


def no_calendar_after_2026(day: dt.date) -> bool:
    if day.year > 2026:
        raise NotImplementedError(day.year)
    return bool(chinese_calendar.is_workday(day))


def test_acceptance_is_due_two_working_days_after_filing_at_the_end_of_the_day_in_china() -> None:
    objection = filed_at(china(2026, 3, 6), Schedule(DEFAULT_CALENDAR, Deadlines()))  # a Friday
    assert objection.accept_due == D(2026, 3, 10)  # Monday, Tuesday
    assert objection.due_at == dt.datetime(2026, 3, 11, tzinfo=CHINA)
    assert objection.calendar_note == ""


def test_a_filing_late_in_the_evening_utc_counts_from_the_chinese_date() -> None:
    evening_utc = dt.datetime(2026, 3, 5, 17, 0, tzinfo=dt.UTC)  # Friday 01:00 in China
    objection = filed_at(evening_utc, Schedule(DEFAULT_CALENDAR, Deadlines()))
    assert objection.accept_due == D(2026, 3, 10)


def test_the_national_day_holiday_and_its_make_up_saturday_move_the_due_date() -> None:
    objection = filed_at(china(2026, 9, 30), Schedule(DEFAULT_CALENDAR, Deadlines()))
    # 1-7 October are holidays; Saturday 10 October is a make-up working day.
    assert objection.accept_due == D(2026, 10, 9)
    late = filed_at(china(2026, 10, 9), Schedule(DEFAULT_CALENDAR, Deadlines()))
    assert late.accept_due == D(2026, 10, 12)  # Saturday the 10th, then Monday the 12th


def test_each_stage_gets_its_own_due_date_from_when_it_began() -> None:
    schedule = Schedule(DEFAULT_CALENDAR, Deadlines(accept=2, verify=5, decide=3))
    objection = filed_at(china(2026, 3, 2), schedule)
    objection.accept(HANDLER, "受理", china(2026, 3, 3), schedule)
    assert objection.verify_due == D(2026, 3, 10)
    assert objection.due_at == end_of(D(2026, 3, 10))
    objection.verify(SOURCE, "no_error", None, "n", china(2026, 3, 9), schedule)
    assert objection.decide_due == D(2026, 3, 12)


def test_deadlines_are_configurable() -> None:
    objection = filed_at(china(2026, 3, 2), Schedule(DEFAULT_CALENDAR, Deadlines(accept=5)))
    assert objection.accept_due == D(2026, 3, 9)


def test_overdue_once_a_due_date_passes_without_its_step_and_so_it_stays() -> None:
    schedule = Schedule(DEFAULT_CALENDAR, Deadlines())
    objection = filed_at(china(2026, 3, 2), schedule)  # accept due Wednesday 4 March
    assert not objection.overdue(china(2026, 3, 4, 23))
    assert objection.overdue(china(2026, 3, 5, 0))
    objection.accept(HANDLER, "late", china(2026, 3, 6), schedule)
    # The verification is not due yet, but the acceptance came late: API.md's `overdue:
    # true` once a due date has passed, and the case missed one.
    assert objection.verify_due is not None and china(2026, 3, 6, 12) < end_of(objection.verify_due)
    assert objection.missed_due_at == end_of(D(2026, 3, 4))
    assert objection.overdue(china(2026, 3, 6, 12))
    objection.withdraw(Actor("cl", "tax"), "撤回", china(2026, 3, 7))
    assert objection.overdue(china(2027, 1, 1))
    assert objection.missed_due_at == end_of(D(2026, 3, 4))  # the first one missed


def test_a_case_whose_steps_all_came_in_time_is_never_overdue() -> None:
    schedule = Schedule(DEFAULT_CALENDAR, Deadlines())
    objection = filed_at(china(2026, 3, 2), schedule)
    objection.accept(HANDLER, "受理", china(2026, 3, 4, 23), schedule)  # the due day's last hour
    assert objection.verify_due is not None
    objection.verify(SOURCE, "no_error", None, "无误", china(2026, 3, 5), schedule)
    objection.decide(HANDLER, "dismissed", "驳回", china(2026, 3, 6))
    assert objection.missed_due_at is None
    assert not objection.overdue(china(2027, 1, 1))


def test_without_calendar_data_monday_to_friday_is_assumed_and_the_objection_says_so() -> None:
    schedule = Schedule(WorkCalendar(no_calendar_after_2026), Deadlines())
    objection = filed_at(china(2026, 12, 31), schedule)  # a Thursday
    assert objection.accept_due == D(2027, 1, 4)  # Friday 1 Jan counted as a working day
    assert "2027" in objection.calendar_note and "Monday-Friday" in objection.calendar_note
    inside = filed_at(china(2026, 3, 2), schedule)
    assert inside.calendar_note == ""
    inside.accept(HANDLER, "受理", china(2026, 12, 30), schedule)
    assert inside.calendar_note.count("2027") == 1


def test_a_repair_decided_after_its_due_date_stays_overdue_and_one_decided_in_time_is_not() -> None:
    schedule = Schedule(DEFAULT_CALENDAR, Deadlines())

    def applied() -> Repair:
        return Repair.apply(
            target=TargetRef("record", str(uuid.uuid4())),
            subject=Subject(uuid.uuid4(), "k", False),
            grounds="已整改",
            evidence=(),
            commitment=True,
            filer=Actor("cl", "tax"),
            at=china(2026, 3, 2),
            schedule=schedule,
        )

    late, in_time = applied(), applied()
    due = end_of(late.decide_due)
    late.decide(HANDLER, "approved", "准予修复", due + dt.timedelta(minutes=1))
    in_time.decide(HANDLER, "approved", "准予修复", due - dt.timedelta(minutes=1))
    assert late.missed_due_at == due and late.overdue(due + dt.timedelta(days=400))
    assert in_time.missed_due_at is None and not in_time.overdue(due + dt.timedelta(days=400))
