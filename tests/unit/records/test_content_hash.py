"""The content hash, by which a resubmitted row is recognised as unchanged."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from typing import Any

import pytest
from google.protobuf import struct_pb2

from credit_common.messages import struct_fields
from credit_records.domain.publicity import Window
from credit_records.domain.records import StoredRecord, Version, canonical_json, content_hash
from credit_records.service_layer.records import _unchanged
from credit_records.service_layer.values import read_fields


def test_the_content_hash_is_the_one_stored_records_were_given() -> None:
    """Built from the fields' canonical JSON (encoded once in a bulk load), it is still the
    SHA-256 of the whole list as compact JSON with sorted keys, so records stored before
    keep matching their resubmissions."""
    subject = uuid.UUID("6f1c1b9e-6c1a-4a53-9d53-0d6b0a2b6c11")
    day = dt.date(2026, 3, 1)
    fields = {
        "CF_XDR_MC": "上海市浦东新区宏远华信建设工程有限公司",
        "CF_WFXW": '未按规定"申报"\\纳税\t',
        "CF_FK": 5000.5,
        "nested": {"b": [1, None, True], "a": "é"},
    }
    stored_formula = json.dumps(
        [str(subject), "admin_penalty", day.isoformat(), fields],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    expected = hashlib.sha256(stored_formula.encode()).hexdigest()
    assert content_hash(subject, "admin_penalty", day, canonical_json(fields)) == expected
    reordered = dict(reversed(list(fields.items())))
    assert content_hash(subject, "admin_penalty", day, canonical_json(reordered)) == expected
    other = canonical_json(fields | {"CF_FK": 5001})
    assert content_hash(subject, "admin_penalty", day, other) != expected


def test_an_item_code_that_needs_json_escapes_is_hashed_as_json_writes_it() -> None:
    subject = uuid.UUID("6f1c1b9e-6c1a-4a53-9d53-0d6b0a2b6c11")
    day = dt.date(2026, 3, 1)
    for item in ("admin_penalty", "行政处罚", 'odd"item\\', "tab\titem", "with space"):
        formula = json.dumps(
            [str(subject), item, day.isoformat(), {}], ensure_ascii=False, separators=(",", ":")
        )
        expected = hashlib.sha256(formula.encode()).hexdigest()
        assert content_hash(subject, item, day, canonical_json({})) == expected, item


TAX_GRADE = {"grade": "A", "year": 2025, "evaluating_authority": "国家税务总局上海市税务局"}


def _sent_alone(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields as a single submission gets them: through a protobuf Struct."""
    message = struct_pb2.Struct()
    message.update(fields)
    return struct_fields(message, "fields")


def test_a_record_sent_alone_and_in_bulk_has_one_content_hash() -> None:
    """A Struct makes every number a double (2025 → 2025.0); a bulk row keeps its file's
    integers. The same record used to hash two ways: sent once each way, the second was
    refused as other content."""
    subject = uuid.UUID("6f1c1b9e-6c1a-4a53-9d53-0d6b0a2b6c11")
    day = dt.date(2026, 4, 1)
    alone = _sent_alone(TAX_GRADE)
    assert alone["year"] == 2025.0 and isinstance(alone["year"], float)
    bulk, _ = read_fields(json.dumps(TAX_GRADE, ensure_ascii=False))
    assert canonical_json(alone) == canonical_json(bulk) == canonical_json(TAX_GRADE)
    assert canonical_json(alone).endswith('"year":2025}')
    hashes = {
        content_hash(subject, "tax_credit_grade", day, canonical_json(f)) for f in (alone, bulk)
    }
    assert len(hashes) == 1


def test_whole_numbers_are_written_as_integers_at_any_depth_and_nothing_else_changes() -> None:
    fields = {
        "amount": 5000.0,
        "rate": 0.5,
        "zero": -0.0,
        "flag": True,
        "none": None,
        "text": "2025.0",
        "kinds": [1.0, "x", [2.0, {"n": 3.0, "m": 3.25}]],
        "nested": {"deep": {"year": 2025.0, "ok": False}},
        "big": 1e23,
    }
    given = json.dumps(fields)
    assert json.loads(canonical_json(fields)) == {
        "amount": 5000,
        "rate": 0.5,
        "zero": 0,
        "flag": True,
        "none": None,
        "text": "2025.0",
        "kinds": [1, "x", [2, {"n": 3, "m": 3.25}]],
        "nested": {"deep": {"year": 2025, "ok": False}},
        # As its shortest text writes it (1e+23), not as the double nearest it.
        "big": 10**23,
    }
    assert json.dumps(fields) == given  # the fields given are left as they are
    assert canonical_json({"n": [True, False, 1]}) == '{"n":[true,false,1]}'


@pytest.mark.parametrize(
    ("stored_text", "given"),
    [
        # PostgreSQL's jsonb gives a number back as the decimal it holds, without exponent.
        ('{"year": 2025.0}', {"year": 2025}),
        ('{"big": 100000000000000000000000}', {"big": 1e23}),
        ('{"small": 0.0000001}', {"small": 1e-7}),
        ('{"x": [1.50, 2]}', {"x": [1.5, 2.0]}),
    ],
)
def test_fields_read_back_from_the_database_write_as_they_were_given(
    stored_text: str, given: dict[str, Any]
) -> None:
    assert canonical_json(json.loads(stored_text)) == canonical_json(given)


def _record(fields: dict[str, Any], schema_version: int = 1) -> StoredRecord:
    now = dt.datetime(2026, 4, 2, tzinfo=dt.UTC)
    return StoredRecord(
        id=uuid.uuid4(),
        subject_id=uuid.uuid4(),
        subject_key="91310115MA8BRK2A83",
        item_code="tax_credit_grade",
        department="tax",
        source_ref="T-9",
        decided_on=dt.date(2026, 4, 1),
        content_hash="0" * 64,
        current_version=1,
        window=Window(False, dt.date(2027, 4, 1), dt.date(2032, 4, 1), False, None, ""),
        late=False,
        submitted_at=now,
        submitted_by="cl",
        updated_at=now,
        withdrawn_at=None,
        repaired_at=None,
        versions=[Version(1, None, schema_version, now, "cl", "tax", "", json.dumps(fields))],
    )


def test_a_correction_of_a_bulk_loaded_record_sent_alone_with_the_same_fields_changes_nothing() -> (
    None
):
    """Retried after a timeout, it used to add a second version (status `corrected`)."""
    stored = _record(TAX_GRADE)
    assert _unchanged(stored, _sent_alone(TAX_GRADE), 1)
    assert not _unchanged(stored, _sent_alone({**TAX_GRADE, "year": 2024}), 1)
    assert not _unchanged(stored, _sent_alone(TAX_GRADE), 2)
