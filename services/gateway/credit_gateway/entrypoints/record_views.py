"""Records and catalog items as HTTP bodies."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

from google.protobuf import json_format

from credit.records.v1 import records_pb2 as rec
from credit.registry.v1 import registry_pb2 as pb
from credit_common.masking import is_person_key, mask_id_number, mask_id_numbers_in
from credit_common.messages import moment_of
from credit_gateway.domain.access import Caller, Level
from credit_gateway.entrypoints import schemas
from credit_gateway.entrypoints.responses import model_json

LEVEL_TO_PB = {
    Level.PUBLIC: rec.LEVEL_PUBLIC,
    Level.SHARED: rec.LEVEL_SHARED,
    Level.AUTHORIZED: rec.LEVEL_AUTHORIZED,
    Level.RESTRICTED: rec.LEVEL_RESTRICTED,
}


def shows_identity(subject: pb.Subject, level: Level) -> bool:
    """Whether the level shows the subject's code as a natural person's identity number in
    full (an answer showing it is marked `responses.unstored`)."""
    return subject.kind == pb.SUBJECT_KIND_NATURAL_PERSON and level >= Level.RESTRICTED


def level_for_writer(subject: pb.Subject, caller: Caller) -> Level:
    """The level what a writer just wrote (a record, a list entry) is shown to it at: in
    full, but a natural person as the public level shows it unless the token allows the
    restricted level (a write states no purpose, and a correction or removal names only
    what it changes). The record's or entry's own content is the writer's, shown in full."""
    if subject.kind == pb.SUBJECT_KIND_NATURAL_PERSON and caller.max_level() < Level.RESTRICTED:
        return Level.PUBLIC
    return Level.RESTRICTED


def shown_code(subject: pb.Subject, level: Level) -> str:
    if subject.kind == pb.SUBJECT_KIND_NATURAL_PERSON and level < Level.RESTRICTED:
        return mask_id_number(subject.code)
    return subject.code


def code_of_key(subject_key: str) -> str:
    """The code to show for a subject the registry did not answer about: an organisation's
    key is its code; a person's (a keyed hash of the identity number) shows nothing."""
    return "" if is_person_key(subject_key) else subject_key


# Numbers read as floats (see fields_of); one decoder, not one made per call.
_FIELDS = json.JSONDecoder(parse_int=float)


def fields_of(record: rec.Record) -> dict[str, Any]:
    """The record's fields, sent as JSON text (when asked for) or as a Struct. Numbers read
    as floats either way (a Struct holds every number as a double), so every route shows a
    record's fields alike: 5000 as 5000.0, whichever way they came."""
    if record.fields_json:
        fields: dict[str, Any] = _FIELDS.decode(record.fields_json)
        return fields
    return json_format.MessageToDict(record.fields)


def shown_fields(fields: Any, level: Level) -> Any:
    """A record's fields (or a text about it) as `level` sees them: below restricted, an
    identity number typed into a text is masked like a person's own."""
    return fields if level >= Level.RESTRICTED else mask_id_numbers_in(fields)


def record_item(record: rec.Record, subject_code: str, level: Level) -> dict[str, Any]:
    """A record as the JSON object of `schemas.RecordPublic`, key for key, as plain values:
    dates as the ISO text the records service sends, moments as datetimes. A page of them
    is written by `records_page` without a model per record (a model per record cost the
    gateway about a third of its CPU for a subject's records)."""
    return {
        "record_id": record.record_id,
        "subject_code": subject_code,
        "item_code": record.item_code,
        "item_name": record.item_name,
        "category": record.category,
        "nature": record.nature,
        "disclosure": record.disclosure,
        "department": record.department,
        "source_ref": record.source_ref,
        "decided_on": record.decided_on,
        "status": record.status,
        "version": record.version,
        "fields": shown_fields(fields_of(record), level),
        "severity": record.severity or None,
        "publicity_until": record.publicity_until or None,
        "retention_until": record.retention_until or None,
        "publicly_visible": record.publicly_visible,
        "never_public": record.never_public,
        "late": record.late,
        "repairable": record.repairable,
        "repair_possible_from": record.repair_possible_from or None,
        "repaired": record.repaired,
        "under_objection": record.under_objection,
        "submitted_at": moment_of(record, "submitted_at"),
        "updated_at": moment_of(record, "updated_at"),
        "calendar_note": record.calendar_note or None,
        "level": level.label,
    }


def record_view(record: rec.Record, subject_code: str, level: Level) -> schemas.RecordPublic:
    return schemas.RecordPublic.model_validate(record_item(record, subject_code, level))


def records_page(
    records: Iterable[rec.Record],
    subject_code: str,
    level: Level,
    next_page_token: str | None,
    as_of: dt.datetime | None,
) -> bytes:
    """A `schemas.RecordPage` as JSON (the bytes its model writes: a test holds them alike)."""
    return model_json(
        {
            "items": [record_item(r, subject_code, level) for r in records],
            "next_page_token": next_page_token,
            "level": level.label,
            "as_of": as_of,
        }
    )


def publicity_ends(records: Iterable[rec.Record]) -> list[dt.date]:
    """The last days of the records' publicity windows (see caching.changes_by_time)."""
    return [dt.date.fromisoformat(r.publicity_until) for r in records if r.publicity_until]


def versions_view(record: rec.Record, level: Level) -> schemas.RecordVersions:
    return schemas.RecordVersions(
        record_id=record.record_id,
        versions=[
            schemas.RecordVersionPublic(
                version=v.version,
                fields=shown_fields(json_format.MessageToDict(v.fields), level),
                submitted_by=v.submitted_by,
                department=v.department,
                submitted_at=moment_of(v, "submitted_at"),
                reason=shown_fields(v.reason, level) or None,
            )
            for v in record.versions
        ],
        level=level.label,
    )


def item_view(item: rec.CatalogItem) -> schemas.CatalogItemPublic:
    rule = item.publicity
    return schemas.CatalogItemPublic(
        item_code=item.item_code,
        name=item.name,
        category=item.category,
        nature=item.nature,
        nature_by_value=(
            {"field": item.nature_field, "values": dict(item.nature_values)}
            if item.nature_field
            else None
        ),
        disclosure=item.disclosure,
        source_departments=list(item.source_departments),
        publicity_days=rule.days if rule.kind == "fixed" and not rule.months else None,
        min_publicity_days=rule.min_days,
        publicity={
            "kind": rule.kind,
            "months": rule.months,
            "days": rule.days,
            "min_days": rule.min_days,
            "until_field": rule.until_field,
            "by_severity": {
                k: json_format.MessageToDict(
                    v, always_print_fields_with_no_presence=True, preserving_proto_field_name=True
                )
                for k, v in rule.by_severity.items()
            },
        },
        retention_days=item.retention_days,
        repairable=item.repairable,
        non_repairable_kinds=list(item.non_repairable_kinds),
        fields=json.loads(item.fields_schema or "{}"),
        schema_version=item.schema_version,
        late_after_workdays=item.late_after_workdays,
    )
