"""A record's fields read the same whether the records service sent JSON text or a Struct
(a records service from before `fields_as_json` sends Structs)."""

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


def test_json_text_keeps_integers_a_struct_would_round() -> None:
    big = {"amount": 2**53 + 1}
    assert fields_of(rec.Record(fields_json=json.dumps(big))) == big
