"""Corrected fields holding NaN or an infinity are the caller's mistake, not an internal
error (MessageToDict cannot write them as JSON)."""

from __future__ import annotations

import dataclasses
import math
import uuid
from typing import Any

import pytest
from google.protobuf import struct_pb2

from credit_common.errors import InvalidArgument
from credit_objections.adapters.targets import correction_problems
from credit_objections.domain.cases import TargetRef
from credit_objections.domain.targets import TargetFacts
from credit_objections.entrypoints.convert import fields_of


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_corrected_fields_that_are_not_finite_are_an_invalid_argument(number: float) -> None:
    message = struct_pb2.Struct()
    message.update({"penalty_content": "警告", "amounts": [1.5, number]})
    with pytest.raises(InvalidArgument) as error:
        fields_of(message)
    assert [v.field for v in error.value.violations] == ["corrected_fields"]
    message.update({"amounts": [1.5]})
    assert fields_of(message) == {"penalty_content": "警告", "amounts": [1.5]}


def record_facts(fields: dict[str, Any], schema: dict[str, Any]) -> TargetFacts:
    """An active record of market regulation with these fields, under this item schema."""
    return TargetFacts(
        ref=TargetRef("record", str(uuid.uuid4())),
        subject_id=uuid.uuid4(),
        subject_key="k",
        source_department="market_regulation",
        status="active",
        fields=fields,
        fields_schema=schema,
    )


def test_a_correction_is_checked_against_the_severity_records_keep() -> None:
    """An item's schema may let any severity through, but the records service keeps 16
    characters and refuses more: verified anyway, the upheld correction was refused there
    and its event parked, the record left unchanged and under objection."""
    facts = record_facts(
        {"severity": "一般", "content": "通报"},
        {"type": "object", "properties": {"severity": {"type": "string"}}},
    )
    too_long = "情节严重，社会影响恶劣，依法从重处罚"
    problems = correction_problems(facts, {"severity": too_long})
    assert [p.field for p in problems] == ["corrected_fields.severity"]
    assert correction_problems(facts, {"severity": too_long[:16]}) == []


def test_a_correction_is_checked_as_the_records_service_checks_it() -> None:
    """The schema was checked without its formats: a date that does not exist passed
    verification, and the upheld correction was refused by the records service."""
    facts = record_facts(
        {"content": "通报", "publicity_deadline": "2026-06-30"},
        {
            "type": "object",
            "required": ["content"],
            "properties": {
                "content": {"type": "string"},
                "publicity_deadline": {"type": "string", "format": "date"},
            },
        },
    )
    for wrong in ("2026-02-30", "30/06/2026"):
        problems = correction_problems(facts, {"publicity_deadline": wrong})
        assert [p.field for p in problems] == ["corrected_fields.publicity_deadline"], wrong
    assert correction_problems(facts, {"publicity_deadline": "2026-07-31"}) == []


def test_a_correction_is_read_as_the_records_service_reads_it() -> None:
    """The records service reads an upheld correction as a bulk line's fields: a blank
    value is no value (a required field left blank is refused here, not there), a penalty
    kind given as text is a kind, and a field given by two names is refused."""
    schema = {
        "type": "object",
        "required": ["penalty_content", "penalty_kinds"],
        "properties": {
            "penalty_content": {"type": "string", "minLength": 1},
            "penalty_kinds": {"type": "array", "items": {"type": "string"}},
            "violation_facts": {"type": "string"},
        },
    }
    facts = record_facts({"penalty_content": "警告", "penalty_kinds": ["warning"]}, schema)
    facts = dataclasses.replace(facts, item_code="admin_penalty")
    blank = correction_problems(facts, {"penalty_content": "   "})
    assert [(p.field, p.message) for p in blank] == [
        ("corrected_fields.penalty_content", "required")
    ]
    assert correction_problems(facts, {"penalty_kinds": "罚款"}) == []
    twice = correction_problems(facts, {"CF_SY": "事实", "violation_facts": "事实"})
    assert [p.field for p in twice] == ["corrected_fields"]
    assert "both give violation_facts" in twice[0].message
