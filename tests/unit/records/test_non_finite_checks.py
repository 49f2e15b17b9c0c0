"""Numbers no double holds (NaN, the infinities, integers past ±1.8e308) are named by
their path before anything is stored: jsonb refuses the first, no Struct carries any."""

from __future__ import annotations

import json
import math

import pytest

from credit_records.service_layer.values import non_finite_violations, read_fields

HUGE = 10**400


def test_every_number_no_double_holds_is_named_by_its_path() -> None:
    fields = {
        "fine_amount": math.nan,
        "confiscated_amount": math.inf,
        "kinds": ["fine", -math.inf],
        "nested": {"ok": 1.5, "deep": [{"x": HUGE}, {"y": -HUGE}]},
        "fine": 10**300,
        "flag": True,
        "none": None,
        "text": "NaN",
    }
    named = {(v.field, v.message) for v in non_finite_violations(fields)}
    assert {field for field, _ in named} == {
        "fields.fine_amount",
        "fields.confiscated_amount",
        "fields.kinds.1",
        "fields.nested.deep.0.x",
        "fields.nested.deep.1.y",
    }
    assert all("not a finite number" in message for _, message in named)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"fine_amount": NaN}', "fields.fine_amount"),
        ('{"fine_amount": Infinity}', "fields.fine_amount"),
        ('{"a": {"b": [-Infinity]}}', "fields.a.b.0"),
        ('{"fine_amount": 1e400}', "fields.fine_amount"),
        ('{"fine_amount": -1.5E+999}', "fields.fine_amount"),
        ('{"a": [1, ' + "9" * 400 + "]}", "fields.a.1"),
        ('{"a": [1, -' + "9" * 400 + "]}", "fields.a.1"),
    ],
)
def test_the_json_text_of_a_bulk_row_cannot_hide_a_number_no_double_holds(
    text: str, field: str
) -> None:
    fields, answering = read_fields(text)
    assert [v.field for v in non_finite_violations(fields, answering)] == [field]


def test_the_json_text_answers_for_rows_whose_numbers_are_all_doubles() -> None:
    clean = {"fine_amount": 1e300, "n": 10**300, "kinds": ["warning"], "facts": "NaN 不是数"}
    text = json.dumps(clean, ensure_ascii=False)
    assert read_fields(text) == (clean, text)
    assert read_fields("") == ({}, "")
    assert non_finite_violations({"n": math.nan}, '{"n": 1}') == []  # the text answers
    assert [v.field for v in non_finite_violations({"n": math.nan}, text)] == ["fields.n"]
    with pytest.raises(ValueError):
        read_fields("{not json")
