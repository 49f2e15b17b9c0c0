"""The objection state machine of API.md, with no I/O."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from credit_common.errors import InvalidArgument, InvalidTransition, PermissionDenied
from credit_common.workdays import DEFAULT_CALENDAR
from credit_objections.domain.cases import Actor, Evidence, Subject, TargetRef, check_evidence
from credit_objections.domain.clock import Deadlines, Schedule
from credit_objections.domain.objections import MOVES, OPEN, Objection, State

SCHEDULE = Schedule(DEFAULT_CALENDAR, Deadlines())
FILER = Actor("cl_window", "development_reform")
HANDLER = Actor("cl_centre", "development_reform")
SOURCE = Actor("cl_market", "market_regulation")
AT = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC)  # Monday 10:00 in China
HASH = "ab" * 32


def filed() -> Objection:
    return Objection.file(
        target=TargetRef("record", str(uuid.uuid4())),
        subject=Subject(uuid.uuid4(), "91310115MA1K3YJ12X", False),
        source_department="market_regulation",
        reason="处罚金额有误",
        evidence=(Evidence("决定书.pdf", HASH),),
        filer=FILER,
        at=AT,
        schedule=SCHEDULE,
    )


def verified(finding: str = "error_confirmed") -> Objection:
    objection = filed()
    objection.accept(HANDLER, "受理", AT, SCHEDULE)
    fields = {"fine_amount": 0.5} if finding == "error_confirmed" else None
    objection.verify(SOURCE, finding, fields, "核实", AT, SCHEDULE)
    return objection


def test_a_filed_objection_is_submitted_and_keeps_who_filed_it_with_what_evidence() -> None:
    objection = filed()
    assert objection.state == State.SUBMITTED and objection.open
    [step] = objection.transitions
    assert (step.from_state, step.to_state, step.action) == ("", "submitted", "file")
    assert step.actor == FILER.client_id and step.evidence == objection.evidence


def test_the_full_path_to_upheld_keeps_every_step_and_the_corrections() -> None:
    objection = verified()
    objection.decide(HANDLER, "upheld", "事实有误", AT)
    assert objection.state == State.UPHELD and not objection.open
    assert [s.to_state for s in objection.transitions] == [
        "submitted",
        "verifying",
        "verified",
        "upheld",
    ]
    assert objection.corrected_fields == {"fine_amount": 0.5}
    assert objection.closed_at == AT and objection.due_at is None
    assert objection.version == 4


def test_a_dismissal_closes_without_corrections() -> None:
    objection = verified("no_error")
    objection.decide(HANDLER, "dismissed", "无误", AT)
    assert objection.state == State.DISMISSED and objection.corrected_fields is None


@pytest.mark.parametrize(
    ("state", "action"),
    [
        (state, action)
        for state in State
        for action in ("accept", "reject", "verify", "decide", "withdraw", "close")
        if (state, action) not in MOVES
    ],
)
def test_every_move_not_in_the_table_is_an_invalid_transition_that_changes_nothing(
    state: State, action: str
) -> None:
    objection = filed()
    objection.state = state
    before = (objection.state, objection.version, len(objection.transitions), objection.due_at)
    calls = {
        "accept": lambda: objection.accept(HANDLER, "r", AT, SCHEDULE),
        "reject": lambda: objection.reject(HANDLER, "r", AT),
        "verify": lambda: objection.verify(SOURCE, "no_error", None, "n", AT, SCHEDULE),
        "decide": lambda: objection.decide(HANDLER, "upheld", "r", AT),
        "withdraw": lambda: objection.withdraw(FILER, "r", AT),
        "close": lambda: objection.close("gone", AT),
    }
    with pytest.raises(InvalidTransition) as error:
        calls[action]()
    assert error.value.reason == "invalid_transition"
    assert (
        objection.state,
        objection.version,
        len(objection.transitions),
        objection.due_at,
    ) == before


def test_only_the_source_department_verifies() -> None:
    objection = filed()
    objection.accept(HANDLER, "受理", AT, SCHEDULE)
    with pytest.raises(PermissionDenied) as error:
        objection.verify(Actor("cl_tax", "tax"), "no_error", None, "n", AT, SCHEDULE)
    assert error.value.reason == "department_mismatch" and objection.state == State.VERIFYING


def test_corrected_fields_only_go_with_a_confirmed_error() -> None:
    objection = filed()
    objection.accept(HANDLER, "受理", AT, SCHEDULE)
    with pytest.raises(InvalidArgument):
        objection.verify(SOURCE, "no_error", {"x": 1}, "n", AT, SCHEDULE)
    with pytest.raises(InvalidArgument):
        objection.verify(SOURCE, "maybe", None, "n", AT, SCHEDULE)
    assert objection.state == State.VERIFYING


def test_only_the_filer_withdraws_and_only_before_a_decision() -> None:
    objection = filed()
    with pytest.raises(PermissionDenied) as error:
        objection.withdraw(HANDLER, "not mine", AT)
    assert error.value.reason == "not_filer"
    objection.withdraw(FILER, "撤回", AT)
    assert objection.state == State.WITHDRAWN
    decided = verified()
    decided.decide(HANDLER, "dismissed", "无误", AT)
    with pytest.raises(InvalidTransition):
        decided.withdraw(FILER, "too late", AT)


def test_a_vanished_target_closes_any_open_objection_as_withdrawn_by_the_service() -> None:
    for state in OPEN:
        objection = filed()
        objection.state = state
        step = objection.close("the record was withdrawn", AT)
        assert objection.state == State.WITHDRAWN and step.actor == "objections"


def test_a_decision_must_be_upheld_or_dismissed() -> None:
    objection = verified()
    with pytest.raises(InvalidArgument):
        objection.decide(HANDLER, "maybe", "r", AT)
    assert objection.state == State.VERIFIED


def test_evidence_needs_a_name_and_a_sha256() -> None:
    assert check_evidence([Evidence(" a.pdf ", HASH.upper())]) == (Evidence("a.pdf", HASH),)
    with pytest.raises(InvalidArgument) as error:
        check_evidence([Evidence("a.pdf", ""), Evidence("", HASH), Evidence("b", "xyz" * 21 + "a")])
    assert error.value.reason == "invalid_evidence"
    assert {v.field for v in error.value.violations} == {
        "evidence[0].sha256",
        "evidence[1].name",
        "evidence[2].sha256",
    }
