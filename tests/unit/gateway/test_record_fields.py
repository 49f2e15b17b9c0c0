"""A record's fields read the same whether the records service sent JSON text or a Struct
(one record's reads, and a records service from before `fields_as_json`, send Structs)."""

from __future__ import annotations

import json

from google.protobuf import struct_pb2

from credit.records.v1 import records_pb2 as rec
from credit_gateway.entrypoints.record_views import fields_of

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
