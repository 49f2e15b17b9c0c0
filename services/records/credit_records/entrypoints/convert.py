"""Domain objects to proto messages and back."""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import struct_pb2

from credit.records.v1 import records_pb2 as pb
from credit_common.errors import FieldViolation, InvalidArgument
from credit_common.messages import struct_fields
from credit_common.messages import timestamp as ts
from credit_records.adapters.catalog_store import definition_of, item_from_definition
from credit_records.domain.catalog import CatalogItem, Level
from credit_records.domain.records import RecordView, canonical_json
from credit_records.service_layer.commands import Caller

LEVELS: dict[int, Level] = {
    pb.LEVEL_PUBLIC: Level.PUBLIC,
    pb.LEVEL_SHARED: Level.SHARED,
    pb.LEVEL_AUTHORIZED: Level.AUTHORIZED,
    pb.LEVEL_RESTRICTED: Level.RESTRICTED,
}


def level(value: int) -> Level:
    return LEVELS.get(value, Level.PUBLIC)


def caller(message: pb.Caller) -> Caller:
    if not message.client_id or not message.department:
        raise InvalidArgument(
            "the caller's client and department are required",
            "invalid_argument",
            [FieldViolation("caller", "client_id and department")],
        )
    return Caller(message.client_id, message.department)


def struct(value: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


def fields_of(message: struct_pb2.Struct) -> dict[str, Any]:
    return struct_fields(message, "fields")


def item_to_pb(item: CatalogItem) -> pb.CatalogItem:
    d = definition_of(item)
    return pb.CatalogItem(
        item_code=item.item_code,
        name=item.name,
        category=item.category,
        nature=item.nature,
        disclosure=item.disclosure.label,
        source_departments=list(item.source_departments),
        publicity=pb.PublicityRule(
            kind=item.publicity.kind,
            months=item.publicity.months,
            days=item.publicity.days,
            min_days=item.publicity.min_days,
            until_field=item.publicity.until_field,
            by_severity={
                k: pb.SeverityWindow(**v) for k, v in d["publicity"]["by_severity"].items()
            },
        ),
        retention_days=item.retention_days,
        repairable=item.repairable,
        non_repairable_kinds=list(item.non_repairable_kinds),
        fields_schema=json.dumps(item.fields_schema, ensure_ascii=False),
        schema_version=item.schema_version,
        late_after_workdays=item.late_after_workdays,
        nature_field=item.nature_field,
        nature_values=item.nature_values,
    )


def item_from_pb(message: pb.CatalogItem) -> CatalogItem:
    try:
        schema = json.loads(message.fields_schema or "{}")
    except ValueError as error:
        raise InvalidArgument(
            "fields is not JSON",
            "validation_failed",
            [FieldViolation("fields", "a JSON Schema object")],
        ) from error
    if message.disclosure not in ("public", "shared", "authorized", "restricted"):
        raise InvalidArgument(
            "invalid disclosure",
            "validation_failed",
            [FieldViolation("disclosure", "public, shared, authorized or restricted")],
        )
    return item_from_definition(
        {
            "item_code": message.item_code,
            "name": message.name,
            "category": message.category,
            "nature": message.nature,
            "disclosure": message.disclosure,
            "source_departments": list(message.source_departments),
            "publicity": {
                "kind": message.publicity.kind or "none",
                "months": message.publicity.months,
                "days": message.publicity.days,
                "min_days": message.publicity.min_days,
                "until_field": message.publicity.until_field,
                "by_severity": {
                    k: {
                        "publish": v.publish,
                        "min_months": v.min_months,
                        "max_months": v.max_months,
                    }
                    for k, v in message.publicity.by_severity.items()
                },
            },
            "retention_days": message.retention_days,
            "repairable": message.repairable,
            "non_repairable_kinds": list(message.non_repairable_kinds),
            "fields": schema,
            "late_after_workdays": message.late_after_workdays,
            "nature_by_value": {
                "field": message.nature_field,
                "values": dict(message.nature_values),
            },
        }
    )


def record_fields(
    seen: RecordView, *, calendar_note: str = "", fields_as_json: bool = False
) -> dict[str, Any]:
    """A Record message's fields (for `pb.Record(**…)` or, with no copy, a reply's
    `records.add(**…)`); the record's own fields as JSON text when `fields_as_json`, else
    as a Struct."""
    r, item, w = seen.record, seen.item, seen.window
    publicity_until = r.publicity_end(w)
    message: dict[str, Any] = {
        "record_id": str(r.id),
        "subject_id": str(r.subject_id),
        "subject_code": r.subject_key,
        "item_code": r.item_code,
        "item_name": item.name,
        "category": item.category,
        "nature": item.nature_of(lambda: seen.version.fields),
        "disclosure": item.disclosure.label,
        "department": r.department,
        "source_ref": r.source_ref,
        "decided_on": r.decided_on.isoformat(),
        "status": seen.status,
        "version": seen.version.version,
        "publicity_until": publicity_until.isoformat()
        if publicity_until and not w.never_public
        else "",
        "retention_until": w.retention_until.isoformat(),
        "publicly_visible": seen.publicly_visible,
        "late": r.late,
        "repairable": w.repairable,
        "repaired": seen.repaired,
        "under_objection": seen.under_objection,
        "submitted_at": ts(r.submitted_at),
        "updated_at": ts(r.updated_at),
        "severity": w.severity,
        "repair_possible_from": w.repair_possible_from.isoformat()
        if w.repair_possible_from
        else "",
        "never_public": w.never_public,
        "calendar_note": calendar_note,
    }
    version = seen.version
    if fields_as_json:  # the JSON text stored or read, when there is one: not encoded again
        message["fields_json"] = version.fields_json or canonical_json(version.fields)
    else:
        message["fields"] = struct(version.fields)
    return message


def record_to_pb(
    seen: RecordView, *, with_versions: bool = False, calendar_note: str = ""
) -> pb.Record:
    r = seen.record
    message = pb.Record(**record_fields(seen, calendar_note=calendar_note))
    if with_versions:
        for v in r.versions:
            if v.version <= seen.version.version:
                message.versions.add(
                    version=v.version,
                    fields=struct(v.fields),
                    schema_version=v.schema_version,
                    submitted_by=v.recorded_by,
                    department=v.department,
                    submitted_at=ts(v.recorded_at),
                    reason=v.reason,
                )
    return message
