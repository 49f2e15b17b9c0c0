"""Objections and repair applications as HTTP bodies; whose subject code is shown how."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from google.protobuf import json_format

from credit.objections.v1 import objections_pb2 as ob
from credit.registry.v1 import registry_pb2 as pb
from credit_common.grpc_errors import RemoteError
from credit_common.messages import moment_of
from credit_gateway.adapters.backends import BackendUnavailable
from credit_gateway.bootstrap import Gateway
from credit_gateway.domain.access import Caller, Level
from credit_gateway.entrypoints import schemas
from credit_gateway.entrypoints.record_views import shown_code, shown_fields, shows_identity

Case = ob.Objection | ob.Repair


def _date(text: str) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _evidence(items: Iterable[ob.Evidence], level: Level) -> list[schemas.EvidencePublic]:
    return [
        schemas.EvidencePublic(name=shown_fields(e.name, level), sha256=e.sha256) for e in items
    ]


def _transitions(steps: Iterable[ob.Transition], level: Level) -> list[schemas.CaseStepPublic]:
    """A case's steps as `level` sees them: a step repeats the texts of the case (the
    filing's reason, the verifier's note, the decision's reason), masked alike."""
    return [
        schemas.CaseStepPublic(
            from_state=s.from_state or None,
            to_state=s.to_state,
            action=s.action,
            at=s.at.ToDatetime(tzinfo=dt.UTC),
            actor=s.actor,
            department=s.department or None,
            reason=shown_fields(s.reason, level),
            evidence=_evidence(s.evidence, level),
            detail=s.detail or None,
        )
        for s in steps
    ]


def _level(caller: Caller, code: str) -> Level:
    """The level a case is shown at: restricted to its subject's own client and to the
    restricted scope, shared to the rest (filers, handlers, verifying departments)."""
    if caller.is_self(code) or "credit:restricted" in caller.scopes:
        return Level.RESTRICTED
    return Level.SHARED


@dataclass
class ShownCodes:
    """The code to show for each case's subject key and the level it is shown at (shared
    where the code is left out), and whether one of them is a natural person's identity
    number in full; `otherwise`, the level for a subject not the caller's own."""

    otherwise: Level
    codes: dict[str, str] = field(default_factory=dict)
    levels: dict[str, Level] = field(default_factory=dict)
    identity_shown: bool = False

    def of(self, subject_key: str) -> tuple[str, Level]:
        return self.codes.get(subject_key, ""), self.levels.get(subject_key, Level.SHARED)

    def lowest(self, cases: Iterable[Case]) -> Level:
        """The level a page of cases is shown at: its lowest (`otherwise` when empty)."""
        return min((self.of(c.subject_key)[1] for c in cases), default=self.otherwise)


async def subject_codes(
    gateway: Gateway, caller: Caller, cases: Sequence[Case], *, written: bool = False
) -> ShownCodes:
    """The code to show for each case's subject key: an organisation's key is its code; a
    person's identity number is shown in full only to the person and the restricted level.
    For cases just `written`, a registry that does not answer leaves persons' codes out:
    the write is done, and a 503 would make the caller's retry a 409 invalid_transition."""
    organisations = {c.subject_key for c in cases if not c.natural_person}
    shown = ShownCodes(
        _level(caller, ""),
        {key: key for key in organisations},
        {key: _level(caller, key) for key in organisations},
    )
    persons = sorted({c.subject_key for c in cases if c.natural_person})
    if not persons:
        return shown
    try:
        reply = await gateway.registry.resolve(persons)
    except (BackendUnavailable, RemoteError):
        if not written:
            raise
        return shown
    for result in reply.results:
        if result.found:
            subject: pb.Subject = result.subject
            level = _level(caller, subject.code)
            shown.codes[result.requested_code] = shown_code(subject, level)
            shown.levels[result.requested_code] = level
            shown.identity_shown |= shows_identity(subject, level)
    return shown


# What a public report shows of an open objection: that there is one, about what, and
# where it stands. Its reason, evidence, filer, findings, notes and corrected fields are
# the subject's and the agencies' (a person's reason may hold a telephone number, an
# address), shown from the shared level up.
PUBLIC_OBJECTION_FIELDS = frozenset(
    {
        "objection_id",
        "target",
        "subject_code",
        "state",
        "filed_at",
        "source_department",
        "accept_due",
        "verify_due",
        "decide_due",
        "due_at",
        "overdue",
        "missed_due_at",
        "calendar_note",
        "closed_at",
        "level",
    }
)


def objection_view(o: ob.Objection, subject_code: str, level: Level) -> schemas.ObjectionPublic:
    return schemas.ObjectionPublic(
        objection_id=o.objection_id,
        target=schemas.TargetPublic(kind=o.target.kind, id=o.target.id),
        subject_code=subject_code,
        state=cast(Any, o.state),
        reason=shown_fields(o.reason, level),
        evidence=_evidence(o.evidence, level),
        filed_by=o.filed_by,
        filed_at=o.filed_at.ToDatetime(tzinfo=dt.UTC),
        source_department=o.source_department,
        accept_due=dt.date.fromisoformat(o.accept_due),
        verify_due=_date(o.verify_due),
        decide_due=_date(o.decide_due),
        due_at=moment_of(o, "due_at"),
        overdue=o.overdue,
        missed_due_at=moment_of(o, "missed_due_at"),
        calendar_note=o.calendar_note or None,
        finding=o.finding or None,
        corrected_fields=shown_fields(json_format.MessageToDict(o.corrected_fields), level)
        if o.HasField("corrected_fields")
        else None,
        verification_note=shown_fields(o.verification_note, level) or None,
        decision=o.decision or None,
        decision_reason=shown_fields(o.decision_reason, level) or None,
        closed_at=moment_of(o, "closed_at"),
        transitions=_transitions(o.transitions, level),
        level=level.label,
    )


def repair_view(r: ob.Repair, subject_code: str, level: Level) -> schemas.RepairPublic:
    return schemas.RepairPublic(
        repair_id=r.repair_id,
        target=schemas.TargetPublic(kind=r.target.kind, id=r.target.id),
        subject_code=subject_code,
        state=cast(Any, r.state),
        grounds=shown_fields(r.grounds, level),
        evidence=_evidence(r.evidence, level),
        commitment=r.commitment,
        filed_by=r.filed_by,
        filed_at=r.filed_at.ToDatetime(tzinfo=dt.UTC),
        decide_due=dt.date.fromisoformat(r.decide_due),
        due_at=moment_of(r, "due_at"),
        overdue=r.overdue,
        missed_due_at=moment_of(r, "missed_due_at"),
        calendar_note=r.calendar_note or None,
        decision=r.decision or None,
        decision_reason=shown_fields(r.decision_reason, level) or None,
        closed_at=moment_of(r, "closed_at"),
        transitions=_transitions(r.transitions, level),
        level=level.label,
    )
