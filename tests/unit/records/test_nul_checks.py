"""Texts holding NUL, which PostgreSQL cannot store, are named before anything is stored."""

from __future__ import annotations

import json

from credit_records.service_layer.values import nul_violations


def test_every_text_holding_nul_is_named_by_its_path() -> None:
    fields = {
        "plain": "无照经营",
        "facts": "未取得\x00执照",
        "kinds": ["warning", "fine\x00"],
        "nested": {"ok": 1, "deep": [{"x": "\x00"}]},
        "bad\x00name": "value",
    }
    named = {(v.field, v.message) for v in nul_violations(fields)}
    assert {field for field, _ in named} == {
        "fields.facts",
        "fields.kinds.1",
        "fields.nested.deep.0.x",
        "fields.bad\\0name",
    }
    assert ("fields.bad\\0name", "the name holds a NUL character, which cannot be stored") in named


def test_the_json_text_the_fields_came_from_answers_for_them_when_it_holds_no_escaped_nul() -> None:
    clean = {"facts": "未取得执照", "kinds": ["warning"]}
    assert nul_violations(clean, json.dumps(clean, ensure_ascii=False)) == []
    dirty = {"facts": "未取得\x00执照"}
    text = json.dumps(dirty, ensure_ascii=False)
    assert "\x00" not in text  # JSON escapes it
    assert [v.field for v in nul_violations(dirty, text)] == ["fields.facts"]
    assert nul_violations({"n": 1, "b": True, "none": None}) == []
