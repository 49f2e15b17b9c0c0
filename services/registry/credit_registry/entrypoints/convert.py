"""Domain objects to proto messages and back."""

from __future__ import annotations

import datetime as dt
from typing import Any

from credit.registry.v1 import registry_pb2 as pb
from credit_common.errors import FieldViolation, InvalidArgument
from credit_common.messages import timestamp
from credit_registry.domain.subjects import Kind, LegacyCode, Status, Subject
from credit_registry.service_layer import commands
from credit_registry.service_layer.registry import CheckedCode

KIND_TO_PB = {
    Kind.ORGANIZATION: pb.SUBJECT_KIND_ORGANIZATION,
    Kind.INDIVIDUAL_BUSINESS: pb.SUBJECT_KIND_INDIVIDUAL_BUSINESS,
    Kind.NATURAL_PERSON: pb.SUBJECT_KIND_NATURAL_PERSON,
}
PB_TO_KIND = {v: k for k, v in KIND_TO_PB.items()}
STATUS_TO_PB = {
    Status.ACTIVE: pb.SUBJECT_STATUS_ACTIVE,
    Status.REVOKED: pb.SUBJECT_STATUS_REVOKED,
    Status.DEREGISTERED: pb.SUBJECT_STATUS_DEREGISTERED,
    Status.MERGED: pb.SUBJECT_STATUS_MERGED,
}
PB_TO_STATUS = {v: k for k, v in STATUS_TO_PB.items()}


def subject_to_pb(subject: Subject, requested: str = "") -> pb.Subject:
    message = pb.Subject(
        subject_id=str(subject.id),
        code=subject.code,
        kind=KIND_TO_PB[subject.kind],
        name=subject.name,
        status=STATUS_TO_PB[subject.status],
        registration_authority=subject.registration_authority,
        org_category=subject.org_category,
        division_code=subject.division_code,
        org_code=subject.org_code,
        legal_representative=subject.legal_representative,
        registered_on=subject.registered_on.isoformat() if subject.registered_on else "",
        legacy_codes=[pb.LegacyCode(type=c.type, value=c.value) for c in subject.legacy_codes],
        merged_codes=subject.merged_codes,
        subject_key=subject.key,
        requested_code=requested if requested and requested.upper() != subject.code else "",
        created_at=timestamp(subject.created_at),
        updated_at=timestamp(subject.updated_at),
    )
    for name, until in subject.former_names:
        message.former_names.add(name=name, until=timestamp(until))
    for status, reason, actor, at in subject.status_history:
        message.status_history.add(
            status=STATUS_TO_PB[status], reason=reason, actor=actor, at=timestamp(at)
        )
    return message


def add_validation(results: Any, checked: CheckedCode) -> None:
    """Adds a code's check to a reply's results, in place (building each message, then
    copying it into the reply, cost twice as much for 10,000), and only the optional
    fields it has (an empty warnings list passed to protobuf tripled the cost)."""
    v = checked.validation
    message = results.add(
        code=v.code, valid=v.valid, kind=v.kind or "", registered=checked.registered
    )
    if v.reason:
        message.reason = v.reason
    if v.warnings:
        message.warnings.extend(v.warnings)
    if v.note:
        message.note = v.note


def summary_fields(subject: Subject, requested: str = "") -> dict[str, Any]:
    """The summary a ResolveCodes caller with summary_only gets (no histories, no dates),
    as the fields of a pb.Subject: a nested message given as a dict is built in place."""
    return {
        "subject_id": str(subject.id),
        "code": subject.code,
        "kind": KIND_TO_PB[subject.kind],
        "name": subject.name,
        "status": STATUS_TO_PB[subject.status],
        "subject_key": subject.key,
        "requested_code": requested if requested and requested.upper() != subject.code else "",
    }


def register_from_pb(request: pb.RegisterSubjectRequest) -> commands.Register:
    if request.kind not in PB_TO_KIND:
        raise InvalidArgument(
            "kind is required",
            "invalid_argument",
            [FieldViolation("kind", "organization, individual_business or natural_person")],
        )
    registered_on = None
    if request.registered_on:
        try:
            registered_on = dt.date.fromisoformat(request.registered_on)
        except ValueError as error:
            raise InvalidArgument(
                "registered_on is not a date",
                "invalid_argument",
                [FieldViolation("registered_on", "YYYY-MM-DD")],
            ) from error
    return commands.Register(
        kind=PB_TO_KIND[request.kind],
        name=request.name,
        registration_authority=request.registration_authority.upper(),
        org_category=request.org_category,
        division_code=request.division_code,
        org_code=request.org_code,
        id_number=request.id_number,
        legal_representative=request.legal_representative,
        registered_on=registered_on,
        legacy_codes=[LegacyCode(c.type, c.value) for c in request.legacy_codes],
        actor=request.actor,
    )


def update_from_pb(request: pb.UpdateSubjectRequest) -> commands.Update:
    status = None
    if request.status != pb.SUBJECT_STATUS_UNSPECIFIED:
        status = PB_TO_STATUS[request.status]
        if status == Status.MERGED:
            raise InvalidArgument(
                "use MergeSubject to merge",
                "invalid_argument",
                [FieldViolation("status", "active, revoked or deregistered")],
            )
    return commands.Update(
        code=request.code,
        name=request.name if request.HasField("name") else None,
        legal_representative=(
            request.legal_representative if request.HasField("legal_representative") else None
        ),
        status=status,
        reason=request.reason,
        actor=request.actor,
    )
