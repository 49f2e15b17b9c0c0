"""Registry messages to HTTP bodies, masked as the level requires."""

from __future__ import annotations

import datetime as dt

from credit.registry.v1 import registry_pb2 as pb
from credit_common.masking import mask_id_number, mask_name
from credit_gateway.domain.access import Level
from credit_gateway.entrypoints import schemas

KINDS = {
    pb.SUBJECT_KIND_ORGANIZATION: "organization",
    pb.SUBJECT_KIND_INDIVIDUAL_BUSINESS: "individual_business",
    pb.SUBJECT_KIND_NATURAL_PERSON: "natural_person",
}
KIND_VALUES = {v: k for k, v in KINDS.items()}
STATUSES = {
    pb.SUBJECT_STATUS_ACTIVE: "active",
    pb.SUBJECT_STATUS_REVOKED: "revoked",
    pb.SUBJECT_STATUS_DEREGISTERED: "deregistered",
    pb.SUBJECT_STATUS_MERGED: "merged",
}
STATUS_VALUES = {v: k for k, v in STATUSES.items()}


def is_person(subject: pb.Subject) -> bool:
    return subject.kind == pb.SUBJECT_KIND_NATURAL_PERSON


def subject_view(subject: pb.Subject, level: Level) -> schemas.SubjectPublic:
    """A subject as the level may see it: natural persons' names masked at public,
    identity numbers masked below restricted."""
    code, name, requested = subject.code, subject.name, subject.requested_code
    former = [
        schemas.FormerNamePublic(
            name=f.name, until=f.until.ToDatetime(tzinfo=dt.UTC) if f.HasField("until") else None
        )
        for f in subject.former_names
    ]
    merged = list(subject.merged_codes)
    if is_person(subject):
        if level < Level.RESTRICTED:
            code = mask_id_number(code)
            requested = mask_id_number(requested) if requested else requested
            merged = [mask_id_number(c) for c in merged]
        if level == Level.PUBLIC:
            name = mask_name(name)
            former = [
                schemas.FormerNamePublic(name=mask_name(f.name), until=f.until) for f in former
            ]
    return schemas.SubjectPublic(
        code=code,
        name=name,
        kind=KINDS.get(subject.kind, "unknown"),
        status=STATUSES.get(subject.status, "unknown"),
        registration_authority=subject.registration_authority,
        org_category=subject.org_category,
        division_code=subject.division_code,
        org_code=subject.org_code or None,
        legal_representative=subject.legal_representative or None,
        registered_on=dt.date.fromisoformat(subject.registered_on)
        if subject.registered_on
        else None,
        former_names=former,
        legacy_codes=[
            schemas.LegacyCodePublic(type=c.type, value=c.value) for c in subject.legacy_codes
        ],
        merged_codes=merged,
        requested_code=requested or None,
        level=level.label,
    )
