"""An objection (异议) and the state machine of API.md, each step kept with who, when, why."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from dataclasses import dataclass, field
from typing import Any

from credit_common.errors import (
    FieldViolation,
    InvalidArgument,
    InvalidTransition,
    PermissionDenied,
)
from credit_objections.domain.cases import (
    SERVICE,
    Actor,
    Evidence,
    Subject,
    TargetRef,
    Transition,
)
from credit_objections.domain.clock import Schedule, missed, overdue, with_note


class State(enum.StrEnum):
    SUBMITTED = "submitted"
    VERIFYING = "verifying"
    VERIFIED = "verified"
    UPHELD = "upheld"
    DISMISSED = "dismissed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


OPEN = frozenset({State.SUBMITTED, State.VERIFYING, State.VERIFIED})
FINDINGS = ("error_confirmed", "no_error")
DECISIONS = ("upheld", "dismissed")

# Which action may move an objection from which state, and to which states.
MOVES: dict[tuple[State, str], frozenset[State]] = {
    (State.SUBMITTED, "accept"): frozenset({State.VERIFYING}),
    (State.SUBMITTED, "reject"): frozenset({State.REJECTED}),
    (State.VERIFYING, "verify"): frozenset({State.VERIFIED}),
    (State.VERIFIED, "decide"): frozenset({State.UPHELD, State.DISMISSED}),
    **{(s, "withdraw"): frozenset({State.WITHDRAWN}) for s in OPEN},
    **{(s, "close"): frozenset({State.WITHDRAWN}) for s in OPEN},
}


_EMPTY_CORRECTIONS = (
    "empty: leave it out to have the record withdrawn, or name the fields to correct"
)


@dataclass
class Objection:
    id: uuid.UUID
    target: TargetRef
    subject: Subject
    source_department: str
    state: State
    reason: str
    evidence: tuple[Evidence, ...]
    filed_by: Actor
    filed_at: dt.datetime
    accept_due: dt.date
    due_at: dt.datetime | None
    calendar_note: str = ""
    verify_due: dt.date | None = None
    decide_due: dt.date | None = None
    finding: str = ""
    corrected_fields: dict[str, Any] | None = None
    verification_note: str = ""
    decision: str = ""
    decision_reason: str = ""
    closed_at: dt.datetime | None = None
    # The first due date a step came after (kept once missed: see `overdue`).
    missed_due_at: dt.datetime | None = None
    # Bumped by every step: a step saved over another's is refused.
    version: int = 1
    transitions: list[Transition] = field(default_factory=list)

    @classmethod
    def file(
        cls,
        *,
        target: TargetRef,
        subject: Subject,
        source_department: str,
        reason: str,
        evidence: tuple[Evidence, ...],
        filer: Actor,
        at: dt.datetime,
        schedule: Schedule,
    ) -> Objection:
        due = schedule.due(at, schedule.deadlines.accept)
        objection = cls(
            id=uuid.uuid4(),
            target=target,
            subject=subject,
            source_department=source_department,
            state=State.SUBMITTED,
            reason=reason,
            evidence=evidence,
            filed_by=filer,
            filed_at=at,
            accept_due=due.on,
            due_at=due.at,
            calendar_note=due.note,
        )
        objection.transitions.append(
            Transition(
                "", State.SUBMITTED, "file", at, filer.client_id, filer.department, reason, evidence
            )
        )
        return objection

    @property
    def open(self) -> bool:
        return self.state in OPEN

    def overdue(self, now: dt.datetime) -> bool:
        """A due date has passed without its step: the current stage's now, or one that an
        earlier step (or the close) came after, which stays so."""
        return overdue(self.missed_due_at, self.due_at if self.open else None, now)

    def accept(self, actor: Actor, reason: str, at: dt.datetime, schedule: Schedule) -> Transition:
        step = self._move("accept", State.VERIFYING, actor, reason, at)
        due = schedule.due(at, schedule.deadlines.verify)
        self.verify_due, self.due_at = due.on, due.at
        self.calendar_note = with_note(self.calendar_note, due.note)
        return step

    def reject(self, actor: Actor, reason: str, at: dt.datetime) -> Transition:
        return self._move("reject", State.REJECTED, actor, reason, at)

    def verify(
        self,
        actor: Actor,
        finding: str,
        corrected_fields: dict[str, Any] | None,
        note: str,
        at: dt.datetime,
        schedule: Schedule,
    ) -> Transition:
        """The source department's answer; only that department may give it."""
        self._check_allowed("verify", State.VERIFIED)
        if actor.department != self.source_department:
            raise PermissionDenied(
                f"only {self.source_department}, the target's source department, may verify",
                "department_mismatch",
            )
        if finding not in FINDINGS:
            raise InvalidArgument(
                "unknown finding",
                "validation_failed",
                [FieldViolation("finding", " or ".join(FINDINGS))],
            )
        if corrected_fields == {}:
            # Corrections are merged over the record's fields, so {} would change nothing,
            # while no corrections at all make an upheld objection withdraw the record: the
            # ambiguity is refused rather than read as a withdrawal.
            raise InvalidArgument(
                f"corrected_fields is {_EMPTY_CORRECTIONS}",
                "validation_failed",
                [FieldViolation("corrected_fields", _EMPTY_CORRECTIONS)],
            )
        if corrected_fields and finding != "error_confirmed":
            raise InvalidArgument(
                "corrected fields go with an error_confirmed finding",
                "validation_failed",
                [FieldViolation("corrected_fields", "only with error_confirmed")],
            )
        step = self._move("verify", State.VERIFIED, actor, note, at, detail=finding)
        self.finding, self.verification_note = finding, note
        self.corrected_fields = corrected_fields or None
        due = schedule.due(at, schedule.deadlines.decide)
        self.decide_due, self.due_at = due.on, due.at
        self.calendar_note = with_note(self.calendar_note, due.note)
        return step

    def decide(self, actor: Actor, decision: str, reason: str, at: dt.datetime) -> Transition:
        if decision not in DECISIONS:
            raise InvalidArgument(
                "unknown decision",
                "validation_failed",
                [FieldViolation("decision", "upheld or dismissed")],
            )
        step = self._move("decide", State(decision), actor, reason, at, detail=decision)
        self.decision, self.decision_reason = decision, reason
        return step

    def withdraw(self, actor: Actor, reason: str, at: dt.datetime) -> Transition:
        """The filer (the same client) withdraws before a decision."""
        self._check_allowed("withdraw", State.WITHDRAWN)
        if actor.client_id != self.filed_by.client_id:
            raise PermissionDenied("only the filer may withdraw an objection", "not_filer")
        return self._move("withdraw", State.WITHDRAWN, actor, reason, at)

    def close(self, reason: str, at: dt.datetime) -> Transition:
        """Ends an objection whose target vanished (withdrawn, removed or expired)."""
        return self._move("close", State.WITHDRAWN, Actor(SERVICE, ""), reason, at)

    def _check_allowed(self, action: str, to: State) -> None:
        if to not in MOVES.get((self.state, action), frozenset()):
            raise InvalidTransition(
                f"{action} is not allowed: the objection is {self.state}",
                metadata={"state": str(self.state), "action": action},
            )

    def _move(
        self, action: str, to: State, actor: Actor, reason: str, at: dt.datetime, detail: str = ""
    ) -> Transition:
        self._check_allowed(action, to)
        self.missed_due_at = missed(self.missed_due_at, self.due_at, at)
        step = Transition(
            self.state, to, action, at, actor.client_id, actor.department, reason, (), detail
        )
        self.state = to
        self.version += 1
        if to not in OPEN:
            self.closed_at, self.due_at = at, None
        self.transitions.append(step)
        return step
