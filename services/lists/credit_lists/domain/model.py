"""List types, measures and entries, and the rules of an entry's life."""

from __future__ import annotations

import calendar
import datetime as dt
import enum
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from credit_common.errors import InvalidTransition
from credit_common.masking import is_person_key
from credit_common.timeutil import china_date, china_day_start, days_on

COLORS = ("red", "black", "watch")
KINDS = ("punish", "reward")


class State(enum.StrEnum):
    PUBLICITY = "publicity"
    EFFECTIVE = "effective"
    EXPIRED = "expired"
    REMOVED = "removed"
    WITHDRAWN = "withdrawn"


CURRENT = (State.PUBLICITY, State.EFFECTIVE)


@dataclass(frozen=True)
class ListType:
    list_type: str
    name: str
    color: str
    authority_department: str
    publicity_days: int
    default_duration_days: int
    min_days_before_repair: int
    repairable: bool
    basis: str
    max_duration_days: int = 0
    min_duration_days: int = 0
    version: int = 1

    def problems(self) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        if not self.list_type or not self.list_type.replace("_", "").isalnum():
            found.append(("list_type", "letters, digits and _"))
        if not self.name.strip():
            found.append(("name", "required"))
        if self.color not in COLORS:
            found.append(("color", "red, black or watch"))
        if not self.authority_department:
            found.append(("authority_department", "required"))
        for name in (
            "publicity_days",
            "default_duration_days",
            "min_days_before_repair",
            "max_duration_days",
            "min_duration_days",
        ):
            if getattr(self, name) < 0:
                found.append((name, "must not be negative"))
        for name in ("default_duration_days", "min_duration_days"):
            if self.max_duration_days and getattr(self, name) > self.max_duration_days:
                found.append((name, "more than max_duration_days"))
        if self.default_duration_days and self.default_duration_days < self.min_duration_days:
            found.append(("default_duration_days", "less than min_duration_days"))
        return found


@dataclass(frozen=True)
class Measure:
    measure_code: str
    name: str
    kind: str
    implementing_department: str
    list_types: tuple[str, ...]
    basis: str
    version: int = 1

    def problems(self) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        if not self.measure_code or not self.measure_code.replace("_", "").isalnum():
            found.append(("measure_code", "letters, digits and _"))
        if not self.name.strip():
            found.append(("name", "required"))
        if self.kind not in KINDS:
            found.append(("kind", "punish or reward"))
        if not self.list_types:
            found.append(("list_types", "at least one"))
        return found


@dataclass(frozen=True)
class Transition:
    from_state: str
    to_state: str
    at: dt.datetime
    actor: str
    reason: str


@dataclass
class Entry:
    id: uuid.UUID
    subject_id: uuid.UUID
    subject_key: str
    list_type: str
    color: str
    department: str
    reason: str
    decision_ref: str
    basis_record_ids: list[str]
    proposed_by: str
    proposed_at: dt.datetime
    state: State  # as stored: the clock may have moved it on since
    publicity_until: dt.datetime
    valid_until: dt.datetime | None
    effective_from: dt.datetime | None
    open_objections: int
    repairable: bool
    repair_possible_from: dt.datetime | None
    history: list[Transition] = field(default_factory=list)

    def at(self, now: dt.datetime) -> Entry:
        """The entry as the clock implies at `now`: publicity over → effective (unless an
        objection holds it), validity over → expired."""
        state, effective_from = self.state, self.effective_from
        if state == State.PUBLICITY and self.publicity_until <= now and self.open_objections == 0:
            state, effective_from = State.EFFECTIVE, self.publicity_until
        if state == State.EFFECTIVE and self.valid_until is not None and self.valid_until <= now:
            state = State.EXPIRED
        if state == self.state:
            return self
        return replace(self, state=state, effective_from=effective_from)

    def in_force(self, now: dt.datetime) -> tuple[dt.datetime, dt.datetime | None] | None:
        """When the entry's measures apply: from taking effect to its end (its validity's,
        or when it was removed or withdrawn; None: no end); None if it never took effect (in
        publicity, or withdrawn there)."""
        entry = self.at(now)
        if entry.effective_from is None or entry.state == State.PUBLICITY:
            return None
        if entry.state == State.EFFECTIVE:
            return entry.effective_from, entry.valid_until
        if entry.state == State.EXPIRED and entry.valid_until is not None:
            return entry.effective_from, entry.valid_until
        ended = [h.at for h in entry.history if h.to_state == entry.state]
        return entry.effective_from, (ended[-1] if ended else now)


def merge_note(merged: str, survivor: str, *, since: str = "") -> str:
    """The history note of an entry whose subject `merged` was merged into `survivor` (and
    that `since` into another): organisations are named by their keys, their unified codes;
    a natural person's key, a keyed hash of the identity number, is never shown."""

    who = "subject" if is_person_key(merged) else f"subject {merged}"
    note = f"{who} merged into {'another subject' if is_person_key(survivor) else survivor}"
    if since:
        note += f" (since merged into {'another' if is_person_key(since) else since})"
    return note


def check_removal(entry: Entry, *, withdraw: bool, reason: str) -> State:
    """The state a removal leads to, or why it may not happen."""
    if not reason.strip():
        from credit_common.errors import InvalidArgument

        raise InvalidArgument("a removal needs a reason", "reason_required")
    if withdraw:
        if entry.state not in CURRENT:
            raise InvalidTransition(f"an entry that is {entry.state} cannot be withdrawn")
        return State.WITHDRAWN
    if entry.state != State.EFFECTIVE:
        raise InvalidTransition(
            f"an entry that is {entry.state} cannot be removed"
            + (" (withdraw it during publicity)" if entry.state == State.PUBLICITY else "")
        )
    return State.REMOVED


_DAY = dt.timedelta(days=1)
_LAST_MOMENT = dt.datetime.max.replace(tzinfo=dt.UTC)


def period_end(after: dt.datetime, days: int) -> dt.datetime:
    """The end of a period of `days` days from `after`, counted as the Civil Code counts
    periods (arts. 201-202): from the next day (from `after`'s own day when `after` is the
    day's first moment), ending with its last day at midnight in China. Whole years end on
    the same date whatever leap day lies within: counted from the next day, after `after`'s
    own date comes round; counted from `after`'s day, as that day's date comes round."""
    day = china_date(after)
    if after != china_day_start(day):  # the day of the event is not counted (art. 201)
        return days_after(day, days)
    if days and days % 365 == 0:
        return _years_on(day, days // 365)
    return days_after(day - _DAY, days)


def counted_from(after: dt.datetime) -> dt.date:
    """The first day a period from `after` counts (Civil Code art. 201): the next day, or
    `after`'s own day when `after` is the day's first moment in China."""
    day = china_date(after)
    return day if after == china_day_start(day) else day + _DAY


def days_after(day: dt.date, days: int) -> dt.datetime:
    """The end (midnight in China) of a period of `days` days counted from the day after
    `day`, whole years as calendar years (`days_on`)."""
    last = days_on(day, days)
    if last == dt.date.max:  # it never ends
        return _LAST_MOMENT
    return china_day_start(last + _DAY)


def _years_on(first: dt.date, years: int) -> dt.datetime:
    """The end of `years` calendar years counted from `first` itself: midnight in China as
    its date comes round (29 February's in a common year on 1 March, the day after the
    last of February)."""
    year = first.year + years
    if year > dt.MAXYEAR:  # it never ends
        return _LAST_MOMENT
    if (first.month, first.day) == (2, 29) and not calendar.isleap(year):
        return china_day_start(dt.date(year, 3, 1))
    return china_day_start(first.replace(year=year))


def recounted_end(
    end: dt.datetime | None, start: dt.datetime, now: dt.datetime
) -> dt.datetime | None:
    """The end of a period that counted from `start`, once it counts from `now` instead (an
    entry its objections held in publicity takes effect when they end): whole years as
    many calendar years from the first day it now counts, any other period put off the
    whole days between. No end stays none, and one past the last moment there is stays."""
    if end is None:
        return None
    was, first = counted_from(start), counted_from(now)
    years = _whole_years(was, end)
    if years:
        return _years_on(first, years)
    try:
        return end + (first - was)
    except OverflowError:
        return end


def _whole_years(first: dt.date, end: dt.datetime) -> int:
    """How many calendar years a period counted from `first` lasts to `end`; 0 when it
    does not last whole years."""
    try:
        years = china_date(end).year - first.year
    except OverflowError:  # past the last day there is
        return 0
    if years > 0 and end == _years_on(first, years):
        return years
    return 0


def takes_effect(list_type: ListType, listed_from: dt.datetime) -> dt.datetime:
    """When an entry listed at `listed_from` takes effect: at once, or when the type's
    publicity days are over."""
    if not list_type.publicity_days:
        return listed_from
    return period_end(listed_from, list_type.publicity_days)


def validity(
    list_type: ListType, start: dt.datetime, valid_until: dt.datetime | None, now: dt.datetime
) -> tuple[dt.datetime | None, list[tuple[str, str]]]:
    """The end of validity: as asked (not past, within the type's minimum and maximum) or
    the default."""
    if valid_until is None:
        if list_type.default_duration_days:
            return period_end(start, list_type.default_duration_days), []
        return None, []
    problems = []
    if valid_until <= now:
        problems.append(("valid_until", "is in the past"))
    if valid_until <= start:
        problems.append(("valid_until", "ends before the entry takes effect"))
    if list_type.max_duration_days and valid_until > period_end(start, list_type.max_duration_days):
        problems.append(
            ("valid_until", f"longer than the type's maximum of {list_type.max_duration_days} days")
        )
    if list_type.min_duration_days and valid_until < period_end(start, list_type.min_duration_days):
        problems.append(
            (
                "valid_until",
                f"shorter than the type's minimum of {list_type.min_duration_days} days",
            )
        )
    return valid_until, problems


def definition(value: Any) -> dict[str, Any]:
    return {
        k: (list(v) if isinstance(v, tuple) else v)
        for k, v in value.__dict__.items()
        if k != "version"
    }
