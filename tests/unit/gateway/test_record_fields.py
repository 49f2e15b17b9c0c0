"""A record's fields read the same whether the records service sent JSON text or a Struct
(one record's reads, and a records service from before `fields_as_json`, send Structs)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from google.protobuf import struct_pb2

from credit.records.v1 import records_pb2 as rec
from credit_gateway.domain.access import Level
from credit_gateway.entrypoints import schemas
from credit_gateway.entrypoints.record_views import fields_of, record_view, records_page

FIELDS = {"penalty_content": "警告", "penalty_kinds": ["warning", "fine"], "fine_amount": 5000}


def test_fields_sent_as_json_text() -> None:
    record = rec.Record(fields_json=json.dumps(FIELDS, ensure_ascii=False))
    assert fields_of(record) == FIELDS


def test_fields_sent_as_a_struct() -> None:
    body = struct_pb2.Struct()
    body.update(FIELDS)
    assert fields_of(rec.Record(fields=body)) == FIELDS


def test_both_ways_read_alike_to_the_type() -> None:
    """Every route shows a record's fields the same: those read by a subject's records
    (JSON text) and those of one record (a Struct), numbers included (a Struct keeps no key
    order)."""
    nested = {"fine_amount": 5000, "rate": 0.5, "parts": [{"n": 3}], "none": None}
    body = struct_pb2.Struct()
    body.update(nested)
    as_json = fields_of(rec.Record(fields_json=json.dumps(nested)))
    as_struct = fields_of(rec.Record(fields=body))
    assert json.dumps(as_json, sort_keys=True) == json.dumps(as_struct, sort_keys=True)


def _record(**overrides: object) -> rec.Record:
    record = rec.Record(
        record_id="3e4d77dc-f3cd-4f8b-9b1a-8a5cf207baaf",
        subject_code="91310115MA1K3YJ25X",
        item_code="admin_penalty",
        item_name="行政处罚",
        category="penalty",
        nature="negative",
        disclosure="public",
        department="market_regulation",
        source_ref='某监罚〔2026〕1号 "</script>"\t\u0001',
        decided_on="2026-10-01",
        status="corrected",
        version=2,
        fields_json=json.dumps(
            {
                "penalty_content": "警告\n罚款",
                "fine_amount": 5000,
                "rate": 0.1,
                "big": 12345678901234567890,
                "tiny": 1e-7,
                "parts": [{"n": 3, "ok": True}, None],
                "ctrl": "\u0000\u001f\u007f\u2028 \\ /",
            },
            ensure_ascii=False,
        ),
        severity="general",
        publicity_until="2027-10-01",
        retention_until="2031-10-01",
        publicly_visible=True,
        late=True,
        repairable=True,
        repair_possible_from="2027-01-01",
        under_objection=True,
        calendar_note="节假日顺延",
    )
    record.submitted_at.FromDatetime(dt.datetime(2026, 10, 2, 8, 30, 1, 123456, tzinfo=dt.UTC))
    record.updated_at.FromDatetime(dt.datetime(2026, 10, 3, tzinfo=dt.UTC))
    for name, value in overrides.items():
        if value is None:
            record.ClearField(name)
        else:
            setattr(record, name, value)
    return record


@pytest.mark.parametrize(
    "as_of",
    [
        None,
        dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 1, 12, 0, 0, 5, tzinfo=dt.timezone(dt.timedelta(0))),
        dt.datetime(2026, 11, 1, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    ],
)
def test_a_page_of_records_is_written_as_its_model_would_be(as_of: dt.datetime | None) -> None:
    """A subject's records are written without a model per record: the bytes are those
    the page's model writes, for every kind of value a record holds."""
    bare = _record(
        severity="",
        publicity_until="",
        retention_until="",
        repair_possible_from="",
        calendar_note="",
        submitted_at=None,
        updated_at=None,
        fields_json='{"a":1}',
        late=False,
        under_objection=False,
    )
    records = [_record(), bare, _record(fields_json="")]
    for level, code, token in (
        (Level.SHARED, "91310115MA1K3YJ25X", "50"),
        (Level.PUBLIC, "x", None),
    ):
        model = schemas.RecordPage(
            items=[record_view(r, code, level) for r in records],
            next_page_token=token,
            level=level.label,
            as_of=as_of,
        )
        assert records_page(records, code, level, token, as_of) == model.model_dump_json().encode()


def test_each_field_of_a_record_goes_to_its_own_key() -> None:
    """The page and the models share `record_item`; this holds its mapping itself, with a
    different value in every field, so no two can be swapped."""
    record = _record(
        item_name="名称",
        category="penalty_cat",
        nature="nature_x",
        disclosure="disclosure_x",
        department="dept_x",
        source_ref="ref_x",
        status="active",
        retention_until="2031-12-31",
        publicly_visible=False,
        never_public=True,
        repairable=False,
        repaired=True,
        fields_json='{"a":1}',
    )
    [item] = json.loads(records_page([record], "CODE", Level.SHARED, None, None))["items"]
    assert item == {
        "record_id": "3e4d77dc-f3cd-4f8b-9b1a-8a5cf207baaf",
        "subject_code": "CODE",
        "item_code": "admin_penalty",
        "item_name": "名称",
        "category": "penalty_cat",
        "nature": "nature_x",
        "disclosure": "disclosure_x",
        "department": "dept_x",
        "source_ref": "ref_x",
        "decided_on": "2026-10-01",
        "status": "active",
        "version": 2,
        "fields": {"a": 1.0},
        "severity": "general",
        "publicity_until": "2027-10-01",
        "retention_until": "2031-12-31",
        "publicly_visible": False,
        "never_public": True,
        "late": True,
        "repairable": False,
        "repair_possible_from": "2027-01-01",
        "repaired": True,
        "under_objection": True,
        "submitted_at": "2026-10-02T08:30:01.123456Z",
        "updated_at": "2026-10-03T00:00:00Z",
        "calendar_note": "节假日顺延",
        "level": "shared",
    }
