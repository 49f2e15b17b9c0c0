"""Checks of one submitted row, shared by single submission and bulk ingestion."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from credit_common.directory import SubjectDirectory
from credit_common.errors import FieldViolation, InvalidArgument
from credit_common.ingest.fieldmap import RowProblem, map_fields
from credit_common.masking import is_person_key
from credit_common.record_rules import severity_violations
from credit_common.timeutil import NOT_A_DAY, iso_day
from credit_common.workdays import WorkCalendar
from credit_records.adapters.catalog_store import CatalogStore
from credit_records.domain.catalog import CatalogItem
from credit_records.domain.publicity import DEADLINE_FIELD, deadline_problem, window_for
from credit_records.domain.records import StoredRecord, Version, canonical_json, content_hash
from credit_records.service_layer.values import (
    NUL,
    non_finite_violations,
    nul_violations,
    surrogate_violations,
)

MAX_SOURCE_REF = 200


@dataclass(frozen=True)
class Checked:
    """A row that passed every check that needs no database: ready to store."""

    item: CatalogItem
    decided_on: dt.date
    fields: dict[str, Any]


def field_violations(
    catalog: CatalogStore,
    item: CatalogItem,
    fields: dict[str, Any],
    fields_json: str | None = None,
    *,
    decided_on: dt.date | None = None,
) -> list[FieldViolation]:
    """What a record's fields may not hold, for a submission as for a correction: NUL,
    lone surrogates, numbers past a double, a severity longer than records keep, what the
    item's schema refuses and, given the decision date, a publicity deadline outside the
    law's window. `fields_json`: see `read_fields`."""
    problems = (
        nul_violations(fields, fields_json)
        + surrogate_violations(fields, fields_json)
        + non_finite_violations(fields, fields_json)
        + severity_violations(fields)
        + [
            FieldViolation(f"fields.{name}" if not name.startswith("fields") else name, message)
            for name, message in catalog.validator(item).errors(fields)
        ]
    )
    if decided_on is not None and not problems:
        deadline = deadline_problem(item, decided_on, fields)
        if deadline:
            problems.append(FieldViolation(f"fields.{DEADLINE_FIELD}", deadline))
    return problems


def read_as_bulk(item_code: str, fields: Any) -> tuple[Any, list[FieldViolation]]:
    """The fields of one record given on its own (a submission, a correction, an upheld
    objection's correction) read as a bulk upload reads the `fields` of an NDJSON line
    (credit_common.ingest.fieldmap.map_fields): national codes and Chinese names become
    our names, text is stripped, empty values are left out, the national items' amounts
    and penalty kinds are converted. So the same record sent on its own and in a bulk
    upload is the same content, not a 409. A field given twice (by two names) is a
    violation, the fields then as given; anything but an object as given (the checks
    refuse it)."""
    if not isinstance(fields, dict):
        return fields, []
    try:
        return map_fields(item_code, fields), []
    except RowProblem as problem:
        return fields, [FieldViolation("fields", text) for text in problem.problems]


def read_as_bulk_or_refuse(item_code: str, fields: Any) -> Any:
    """Corrected fields read as a bulk line's (`read_as_bulk`); a field given twice
    refused."""
    read, twice = read_as_bulk(item_code, fields)
    if twice:
        raise InvalidArgument("the corrected fields give a field twice", "validation_failed", twice)
    return read


async def check_row(
    catalog: CatalogStore,
    department: str,
    item_code: str,
    source_ref: str,
    decided_on: str,
    fields: Any,
    today: dt.date,
    *,
    fields_json: str | None = None,
) -> tuple[Checked | None, list[FieldViolation]]:
    """Item, department, source ref, decision date and fields: every problem, each named.
    `fields_json`: the JSON text that answers for `fields`, if there is one (see
    `read_fields`)."""
    problems: list[FieldViolation] = []
    item = await catalog.get(item_code)
    if item is None:
        return None, [FieldViolation("item_code", f"unknown catalog item {item_code!r}")]
    if not item.accepts_from(department):
        return None, [FieldViolation("item_code", f"{department} is not a source of {item_code}")]
    if not source_ref.strip():
        problems.append(FieldViolation("source_ref", "required"))
    elif len(source_ref) > MAX_SOURCE_REF:
        problems.append(FieldViolation("source_ref", f"at most {MAX_SOURCE_REF} characters"))
    elif "\x00" in source_ref:
        problems.append(FieldViolation("source_ref", f"holds {NUL}"))
    day = iso_day(decided_on)
    if day is None:
        problems.append(FieldViolation("decided_on", NOT_A_DAY))
    if day is not None and day > today:
        problems.append(
            FieldViolation("decided_on", f"{day} is in the future (after the submission)")
        )
    if not isinstance(fields, dict):
        problems.append(FieldViolation("fields", "an object"))
    else:
        problems += field_violations(catalog, item, fields, fields_json, decided_on=day)
    if problems or day is None or not isinstance(fields, dict):
        return None, problems
    return Checked(item, day, fields), []


def new_record(
    checked: Checked,
    *,
    subject_id: uuid.UUID,
    subject_key: str,
    department: str,
    source_ref: str,
    client_id: str,
    now: dt.datetime,
    today: dt.date,
    calendar: WorkCalendar,
) -> tuple[StoredRecord, str]:
    """The record a checked row becomes, and the calendar's caveat about its late mark."""
    item = checked.item
    late, note = False, ""
    if item.late_after_workdays:
        elapsed = calendar.workdays_between(checked.decided_on, today)
        late, note = elapsed.value > item.late_after_workdays, elapsed.note
    fields_json = canonical_json(checked.fields)
    version = Version(
        1, checked.fields, item.schema_version, now, client_id, department, "", fields_json
    )
    record = StoredRecord(
        id=uuid.uuid4(),
        subject_id=subject_id,
        subject_key=subject_key,
        item_code=item.item_code,
        department=department,
        source_ref=source_ref,
        decided_on=checked.decided_on,
        content_hash=content_hash(subject_id, item.item_code, checked.decided_on, fields_json),
        current_version=1,
        window=window_for(
            item, checked.decided_on, checked.fields, personal=is_person_key(subject_key)
        ),
        late=late,
        submitted_at=now,
        submitted_by=client_id,
        updated_at=now,
        withdrawn_at=None,
        repaired_at=None,
        versions=[version],
    )
    return record, note


def same_fields(stored: StoredRecord, fields: dict[str, Any]) -> bool:
    """Whether `fields` (read as a bulk line's are: `read_as_bulk`) are `stored`'s current
    ones: as stored, or as they read now (a record stored before single submissions were
    read so may hold text with blanks around it, or empty values)."""
    mine = stored.current.fields
    given = canonical_json(fields)
    if canonical_json(mine) == given:
        return True
    read, twice = read_as_bulk(stored.item_code, mine)
    return not twice and canonical_json(read) == given


async def sent_again(
    directory: SubjectDirectory, stored: StoredRecord | None, fresh: StoredRecord
) -> bool:
    """Whether `fresh`, whose content hash is not `stored`'s, is `stored` sent again all the
    same: the same decision date and fields (`same_fields`: stored before fields were read
    as a bulk line's, its hash is of the fields as given then), under the same subject or
    under the subject `stored`'s was merged into, before this service heard of the merge
    (its subject.merged consumer then moves the record, and its hash, to the survivor; the
    registry resolving the stored subject to `fresh`'s). Either was a 409 before."""
    if stored is None or stored.decided_on != fresh.decided_on:
        return False
    if not same_fields(stored, fresh.versions[-1].fields):
        return False
    if stored.subject_id == fresh.subject_id:
        return True
    directory.forget(stored.subject_key)  # asked afresh: an answer cached before the merge
    survivor = (await directory.resolve([stored.subject_key])).get(stored.subject_key)
    return survivor is not None and survivor.subject_id == fresh.subject_id
