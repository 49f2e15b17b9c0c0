"""Domain objects to proto messages and back."""

from __future__ import annotations

from credit.lists.v1 import lists_pb2 as pb
from credit_common.errors import FieldViolation, InvalidArgument
from credit_common.messages import timestamp as ts
from credit_lists.domain.model import Entry, ListType, Measure
from credit_lists.service_layer.commands import Caller
from credit_lists.service_layer.entries import Status, Triggered


def caller(message: pb.Caller) -> Caller:
    if not message.client_id or not message.department:
        raise InvalidArgument(
            "the caller's client and department are required",
            "invalid_argument",
            [FieldViolation("caller", "client_id and department")],
        )
    return Caller(message.client_id, message.department)


def list_type_to_pb(value: ListType) -> pb.ListType:
    return pb.ListType(
        list_type=value.list_type,
        name=value.name,
        color=value.color,
        authority_department=value.authority_department,
        publicity_days=value.publicity_days,
        default_duration_days=value.default_duration_days,
        min_days_before_repair=value.min_days_before_repair,
        repairable=value.repairable,
        basis=value.basis,
        version=value.version,
        max_duration_days=value.max_duration_days,
        min_duration_days=value.min_duration_days,
    )


def list_type_from_pb(m: pb.ListType) -> ListType:
    return ListType(
        m.list_type,
        m.name,
        m.color,
        m.authority_department,
        m.publicity_days,
        m.default_duration_days,
        m.min_days_before_repair,
        m.repairable,
        m.basis,
        m.max_duration_days,
        min_duration_days=m.min_duration_days,
    )


def measure_to_pb(value: Measure) -> pb.Measure:
    return pb.Measure(
        measure_code=value.measure_code,
        name=value.name,
        kind=value.kind,
        implementing_department=value.implementing_department,
        list_types=list(value.list_types),
        basis=value.basis,
        version=value.version,
    )


def measure_from_pb(m: pb.Measure) -> Measure:
    return Measure(
        m.measure_code, m.name, m.kind, m.implementing_department, tuple(m.list_types), m.basis
    )


def entry_to_pb(entry: Entry) -> pb.Entry:
    message = pb.Entry(
        entry_id=str(entry.id),
        subject_id=str(entry.subject_id),
        subject_key=entry.subject_key,
        list_type=entry.list_type,
        color=entry.color,
        state=entry.state.value,
        reason=entry.reason,
        decision_ref=entry.decision_ref,
        basis_record_ids=entry.basis_record_ids,
        department=entry.department,
        proposed_at=ts(entry.proposed_at),
        publicity_until=ts(entry.publicity_until),
        effective_from=ts(entry.effective_from),
        valid_until=ts(entry.valid_until),
        under_objection=entry.open_objections > 0,
        repairable=entry.repairable,
        repair_possible_from=ts(entry.repair_possible_from),
        proposed_by=entry.proposed_by,
    )
    for step in entry.history:
        message.history.add(
            from_state=step.from_state,
            to_state=step.to_state,
            at=ts(step.at),
            actor=step.actor,
            reason=step.reason,
        )
    return message


def measure_in_effect_pb(m: Measure) -> pb.TriggeredMeasure:
    """A measure as a restriction check names it, without the entry that triggers it."""
    return pb.TriggeredMeasure(
        measure_code=m.measure_code,
        name=m.name,
        kind=m.kind,
        basis=m.basis,
        implementing_department=m.implementing_department,
    )


def triggered_to_pb(value: Triggered) -> pb.TriggeredMeasure:
    message = measure_in_effect_pb(value.measure)
    message.entry_id = str(value.entry.id)
    message.list_type = value.entry.list_type
    return message


def status_to_pb(status: Status) -> pb.SubjectStatusResponse:
    return pb.SubjectStatusResponse(
        entries=[entry_to_pb(e) for e in status.entries],
        measures=[triggered_to_pb(t) for t in status.measures],
        restricted=status.restricted,
        rewarded=status.rewarded,
    )
