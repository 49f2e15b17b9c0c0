"""Whether a target may be repaired now, and if not, why and from when (no I/O)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from credit_common.errors import Conflict, DomainError, InvalidArgument, InvalidTransition
from credit_common.workdays import DEFAULT_CALENDAR
from credit_objections.domain.cases import Actor, Subject, TargetRef
from credit_objections.domain.clock import Deadlines, Schedule
from credit_objections.domain.repairs import Repair, RepairState, check_repairable
from credit_objections.domain.targets import TargetFacts

TODAY = dt.date(2026, 11, 27)


def record(**overrides: Any) -> TargetFacts:
    values: dict[str, Any] = {
        "ref": TargetRef("record", str(uuid.uuid4())),
        "subject_id": uuid.uuid4(),
        "subject_key": "91310115MA1K3YJ12X",
        "source_department": "market_regulation",
        "status": "active",
        "publicity_until": TODAY + dt.timedelta(days=200),
        "kind_repairable": True,
        "repair_possible_from": TODAY - dt.timedelta(days=1),
    }
    values.update(overrides)
    return TargetFacts(**values)


def refusal(facts: TargetFacts) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as error:
        check_repairable(facts, TODAY)
    return error.value


def test_a_general_penalty_past_its_minimum_publicity_is_repairable() -> None:
    check_repairable(record(), TODAY)
    check_repairable(record(repair_possible_from=TODAY), TODAY)


def test_before_the_minimum_publicity_it_is_too_early_and_says_from_when() -> None:
    error = refusal(record(repair_possible_from=dt.date(2027, 2, 1)))
    assert error.reason == "too_early" and error.metadata == {"possible_from": "2027-02-01"}
    assert "2027-02-01" in error.message


def test_penalty_kinds_such_as_suspension_are_not_repairable_before_the_maximum() -> None:
    until = TODAY + dt.timedelta(days=700)
    error = refusal(record(blocking_kinds=("suspension",), publicity_until=until))
    assert error.reason == "not_repairable" and "suspension" in error.message
    assert error.metadata == {}  # no day on which a repair would be accepted
    assert f"its publication ends on {until}" in error.message


def test_items_and_list_types_that_allow_no_repair_are_refused() -> None:
    assert refusal(record(kind_repairable=False)).reason == "not_repairable"
    entry = record(ref=TargetRef("list_entry", "e1"), status="effective", kind_repairable=False)
    assert "list type" in refusal(entry).message


def test_what_is_never_published_or_no_longer_published_has_nothing_to_repair() -> None:
    assert refusal(record(never_public=True)).reason == "not_repairable"
    over = refusal(record(publicity_until=TODAY - dt.timedelta(days=1)))
    assert over.reason == "not_repairable" and "ended" in over.message


def test_withdrawn_repaired_and_ended_targets_are_refused() -> None:
    with pytest.raises(DomainError) as gone:
        check_repairable(record(status="withdrawn"), TODAY)
    assert gone.value.reason == "target_withdrawn"
    with pytest.raises(Conflict):
        check_repairable(record(repaired=True), TODAY)
    ended = record(ref=TargetRef("list_entry", "e1"), status="expired")
    with pytest.raises(DomainError) as error:
        check_repairable(ended, TODAY)
    assert error.value.reason == "target_ended"
    # A record past its retention, which no level but restricted shows any more.
    with pytest.raises(DomainError) as expired:
        check_repairable(record(status="expired"), TODAY)
    assert expired.value.reason == "target_ended" and "retention" in expired.value.message


def test_an_application_needs_the_commitment_and_is_decided_once() -> None:
    schedule = Schedule(DEFAULT_CALENDAR, Deadlines())
    at = dt.datetime(2026, 3, 2, 2, tzinfo=dt.UTC)
    kwargs: dict[str, Any] = {
        "target": TargetRef("record", "r1"),
        "subject": Subject(uuid.uuid4(), "k", False),
        "grounds": "已整改",
        "evidence": (),
        "filer": Actor("cl", "development_reform"),
        "at": at,
        "schedule": schedule,
    }
    with pytest.raises(InvalidArgument) as error:
        Repair.apply(commitment=False, **kwargs)
    assert error.value.reason == "commitment_required"
    repair = Repair.apply(commitment=True, **kwargs)
    assert repair.decide_due == dt.date(2026, 3, 16)  # 10 working days
    repair.decide(Actor("cl_centre", "development_reform"), "approved", "符合条件", at)
    assert repair.state == RepairState.APPROVED
    with pytest.raises(InvalidTransition):
        repair.decide(Actor("cl_centre", "development_reform"), "rejected", "again", at)
