"""A credit repair application (信用修复): eligible at once or refused with the reason and
the first date it becomes possible; then approved or rejected."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from dataclasses import dataclass, field

from credit_common.errors import (
    Conflict,
    FieldViolation,
    InvalidArgument,
    InvalidTransition,
)
from credit_objections.domain.cases import (
    SERVICE,
    Actor,
    Evidence,
    Subject,
    TargetRef,
    Transition,
)
from credit_objections.domain.clock import Schedule, missed, overdue
from credit_objections.domain.targets import TargetFacts, check_objectionable


class RepairState(enum.StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    # The target vanished before a decision.
    WITHDRAWN = "withdrawn"


DECISIONS = ("approved", "rejected")


def _refuse(reason: str, message: str, possible_from: dt.date | None = None) -> InvalidArgument:
    metadata = {"possible_from": possible_from.isoformat()} if possible_from else {}
    return InvalidArgument(message, reason, [FieldViolation("target", message)], metadata)


def check_commitment(commitment: bool) -> None:
    if not commitment:
        raise InvalidArgument(
            "a repair needs the subject's public credit commitment",
            "commitment_required",
            [FieldViolation("commitment", "must be true")],
        )


def check_repairable(facts: TargetFacts, today: dt.date) -> None:
    """Repairable at all, minimum publicity elapsed; else why, and from when if ever."""
    check_objectionable(facts)
    if facts.repaired:
        raise Conflict(f"the {facts.noun} is already repaired", "already_repaired")
    if facts.never_public:
        raise _refuse("not_repairable", "the record is never published: there is nothing to repair")
    if not facts.kind_repairable:
        what = "catalog item" if facts.ref.kind == "record" else "list type"
        raise _refuse("not_repairable", f"the {what} does not allow repair")
    until = facts.publicity_until
    if facts.blocking_kinds:
        # No possible_from: the publication ends by itself at the maximum, and after it
        # there is nothing left to repair (the date is in the message, not offered as one
        # on which a repair would be accepted).
        ends = f"; its publication ends on {until}" if until else ""
        raise _refuse(
            "not_repairable",
            f"penalties of kind {', '.join(facts.blocking_kinds)} cannot be repaired before the "
            f"maximum publicity{ends}",
        )
    if until is not None and until < today:
        raise _refuse("not_repairable", f"the record's publication already ended on {until}")
    if facts.repair_possible_from is not None and facts.repair_possible_from > today:
        raise _refuse(
            "too_early",
            f"repair is possible from {facts.repair_possible_from} (the minimum publicity)",
            facts.repair_possible_from,
        )


@dataclass
class Repair:
    id: uuid.UUID
    target: TargetRef
    subject: Subject
    state: RepairState
    grounds: str
    evidence: tuple[Evidence, ...]
    commitment: bool
    filed_by: Actor
    filed_at: dt.datetime
    decide_due: dt.date
    due_at: dt.datetime | None
    calendar_note: str = ""
    decision: str = ""
    decision_reason: str = ""
    closed_at: dt.datetime | None = None
    # The decision's due date, once the decision (or the close) came after it.
    missed_due_at: dt.datetime | None = None
    version: int = 1
    transitions: list[Transition] = field(default_factory=list)

    @classmethod
    def apply(
        cls,
        *,
        target: TargetRef,
        subject: Subject,
        grounds: str,
        evidence: tuple[Evidence, ...],
        commitment: bool,
        filer: Actor,
        at: dt.datetime,
        schedule: Schedule,
    ) -> Repair:
        check_commitment(commitment)
        due = schedule.due(at, schedule.deadlines.repair_decide)
        repair = cls(
            uuid.uuid4(), target, subject, RepairState.SUBMITTED, grounds, evidence, True,
            filer, at, due.on, due.at, due.note,
        )  # fmt: skip
        repair.transitions.append(
            Transition(
                "",
                RepairState.SUBMITTED,
                "file",
                at,
                filer.client_id,
                filer.department,
                grounds,
                evidence,
            )
        )
        return repair

    @property
    def open(self) -> bool:
        return self.state == RepairState.SUBMITTED

    def overdue(self, now: dt.datetime) -> bool:
        """The decision's due date has passed: undecided now, or decided (or closed) after."""
        return overdue(self.missed_due_at, self.due_at if self.open else None, now)

    def decide(self, actor: Actor, decision: str, reason: str, at: dt.datetime) -> Transition:
        if decision not in DECISIONS:
            raise InvalidArgument(
                "unknown decision",
                "validation_failed",
                [FieldViolation("decision", "approved or rejected")],
            )
        step = self._move("decide", RepairState(decision), actor, reason, at, decision)
        self.decision, self.decision_reason = decision, reason
        return step

    def close(self, reason: str, at: dt.datetime) -> Transition:
        return self._move("close", RepairState.WITHDRAWN, Actor(SERVICE, ""), reason, at, "")

    def _move(
        self, action: str, to: RepairState, actor: Actor, reason: str, at: dt.datetime, detail: str
    ) -> Transition:
        if not self.open:
            raise InvalidTransition(
                f"{action} is not allowed: the repair is {self.state}",
                metadata={"state": str(self.state), "action": action},
            )
        self.missed_due_at = missed(self.missed_due_at, self.due_at, at)
        step = Transition(
            self.state, to, action, at, actor.client_id, actor.department, reason, (), detail
        )
        self.state, self.closed_at, self.due_at = to, at, None
        self.version += 1
        self.transitions.append(step)
        return step
