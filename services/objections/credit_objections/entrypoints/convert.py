"""Domain objects to proto messages and back."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Iterable
from typing import Any

from google.protobuf import struct_pb2

from credit.objections.v1 import objections_pb2 as pb
from credit_common.errors import FieldViolation, InvalidArgument
from credit_common.messages import invalid_page_token, offset_of, struct_fields
from credit_common.messages import timestamp as ts
from credit_objections.domain.cases import Actor, Evidence, PageKey, TargetRef, Transition
from credit_objections.domain.objections import Objection
from credit_objections.domain.repairs import Repair


def caller(message: pb.Caller) -> Actor:
    if not message.client_id or not message.department:
        raise InvalidArgument(
            "the caller's client and department are required",
            "invalid_argument",
            [FieldViolation("caller", "client_id and department")],
        )
    return Actor(message.client_id, message.department)


def case_id(text: str, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError as error:
        raise InvalidArgument(
            f"{name} is not an id", "invalid_argument", [FieldViolation(name, "a UUID")]
        ) from error


_KEY_PREFIX = "k:"


def page_start(token: str) -> tuple[PageKey | None, int]:
    """Where a page token says a listing resumes: after a case (the tokens `page_token`
    gives), or at an offset (those of the versions before, still honoured)."""
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
    except ValueError:
        text = ""
    if not text.startswith(_KEY_PREFIX):
        return None, offset_of(token)
    try:
        due, filed, case = json.loads(text.removeprefix(_KEY_PREFIX))
        key = PageKey(_moment(due) if due is not None else None, _moment(filed), uuid.UUID(case))
    except (ValueError, TypeError) as error:
        raise invalid_page_token() from error
    return key, 0


def _moment(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("a moment without its offset")
    return moment


def page_token(key: PageKey | None) -> str:
    """The token of the page after `key` ("" when there is none)."""
    if key is None:
        return ""
    due = key.due_at.isoformat() if key.due_at is not None else None
    text = _KEY_PREFIX + json.dumps([due, key.filed_at.isoformat(), str(key.id)])
    return base64.urlsafe_b64encode(text.encode()).decode()


def target(message: pb.Target) -> TargetRef:
    return TargetRef(message.kind, message.id)


def evidence(items: Iterable[pb.Evidence]) -> list[Evidence]:
    return [Evidence(e.name, e.sha256) for e in items]


def fields_of(message: struct_pb2.Struct) -> dict[str, Any]:
    return struct_fields(message, "corrected_fields")


def _day(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def _evidence(items: Iterable[Evidence]) -> list[pb.Evidence]:
    return [pb.Evidence(name=e.name, sha256=e.sha256) for e in items]


def _transitions(steps: Iterable[Transition]) -> list[pb.Transition]:
    return [
        pb.Transition(
            from_state=str(s.from_state),
            to_state=str(s.to_state),
            action=s.action,
            at=ts(s.at),
            actor=s.actor,
            department=s.department,
            reason=s.reason,
            evidence=_evidence(s.evidence),
            detail=s.detail,
        )
        for s in steps
    ]


def objection_to_pb(o: Objection, now: dt.datetime) -> pb.Objection:
    message = pb.Objection(
        objection_id=str(o.id),
        target=pb.Target(kind=o.target.kind, id=o.target.id),
        subject_id=str(o.subject.id),
        subject_key=o.subject.key,
        natural_person=o.subject.natural_person,
        state=str(o.state),
        reason=o.reason,
        evidence=_evidence(o.evidence),
        filed_by=o.filed_by.client_id,
        filed_department=o.filed_by.department,
        filed_at=ts(o.filed_at),
        source_department=o.source_department,
        accept_due=_day(o.accept_due),
        verify_due=_day(o.verify_due),
        decide_due=_day(o.decide_due),
        due_at=ts(o.due_at),
        overdue=o.overdue(now),
        calendar_note=o.calendar_note,
        finding=o.finding,
        verification_note=o.verification_note,
        decision=o.decision,
        decision_reason=o.decision_reason,
        closed_at=ts(o.closed_at),
        transitions=_transitions(o.transitions),
        missed_due_at=ts(o.missed_due_at),
    )
    if o.corrected_fields:
        message.corrected_fields.update(o.corrected_fields)
    return message


def repair_to_pb(r: Repair, now: dt.datetime) -> pb.Repair:
    return pb.Repair(
        repair_id=str(r.id),
        target=pb.Target(kind=r.target.kind, id=r.target.id),
        subject_id=str(r.subject.id),
        subject_key=r.subject.key,
        natural_person=r.subject.natural_person,
        state=str(r.state),
        grounds=r.grounds,
        evidence=_evidence(r.evidence),
        commitment=r.commitment,
        filed_by=r.filed_by.client_id,
        filed_department=r.filed_by.department,
        filed_at=ts(r.filed_at),
        decide_due=_day(r.decide_due),
        due_at=ts(r.due_at),
        overdue=r.overdue(now),
        calendar_note=r.calendar_note,
        decision=r.decision,
        decision_reason=r.decision_reason,
        closed_at=ts(r.closed_at),
        transitions=_transitions(r.transitions),
        missed_due_at=ts(r.missed_due_at),
    )
