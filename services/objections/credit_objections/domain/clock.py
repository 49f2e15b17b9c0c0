"""Due dates in working days: a stage "within N working days" of a moment is due at the
end of the N-th working day after that moment's date in China."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from credit_common.timeutil import CHINA, china_date
from credit_common.workdays import WorkCalendar


def end_of(day: dt.date) -> dt.datetime:
    """The moment a day in China ends, in UTC."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), CHINA).astimezone(dt.UTC)


@dataclass(frozen=True)
class Deadlines:
    """Working days allowed for each stage (configurable; DOMAIN.md has the defaults)."""

    accept: int = 2
    verify: int = 5
    decide: int = 3
    repair_decide: int = 10


@dataclass(frozen=True)
class Due:
    on: dt.date
    at: dt.datetime
    # The calendar's caveat when it assumed Monday-Friday for a year it has no data for.
    note: str


class Schedule:
    def __init__(self, calendar: WorkCalendar, deadlines: Deadlines) -> None:
        self.calendar = calendar
        self.deadlines = deadlines

    def due(self, start: dt.datetime, workdays: int) -> Due:
        result = self.calendar.add_workdays(china_date(start), workdays)
        return Due(result.value, end_of(result.value), result.note)


def with_note(notes: str, note: str) -> str:
    """Adds a calendar caveat to those already given, once."""
    if not note or note in notes:
        return notes
    return f"{notes}; {note}" if notes else note


def missed(
    already: dt.datetime | None, due_at: dt.datetime | None, at: dt.datetime
) -> dt.datetime | None:
    """The first due date a case missed, once a step is taken `at` in the stage due at
    `due_at`: a due date missed stays missed, whatever the later steps' timing."""
    if already is None and due_at is not None and at >= due_at:
        return due_at
    return already


def overdue(
    missed_due_at: dt.datetime | None, due_at: dt.datetime | None, now: dt.datetime
) -> bool:
    """Whether a case is overdue (API.md: `overdue: true` once a due date has passed): one
    was missed, or the open stage's (`due_at`) has passed by `now`."""
    return missed_due_at is not None or (due_at is not None and now >= due_at)
