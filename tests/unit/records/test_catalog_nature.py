"""A record's nature by one of its fields (DOMAIN.md: a tax grade is positive for A and
negative for D), and the checks of an item that says so."""

from __future__ import annotations

import dataclasses

from credit_records.adapters.catalog_store import definition_of, item_from_definition
from credit_records.domain.catalog import CatalogItem, Level, PublicityRule, check_item

GRADE = CatalogItem(
    item_code="tax_credit_grade",
    name="纳税信用等级",
    category="信用评价结果",
    nature="neutral",
    disclosure=Level.SHARED,
    source_departments=("tax",),
    publicity=PublicityRule("fixed", months=12),
    retention_days=1826,
    repairable=False,
    non_repairable_kinds=(),
    fields_schema={"type": "object", "properties": {"grade": {"enum": ["A", "B", "D"]}}},
    nature_field="grade",
    nature_values={"A": "positive", "D": "negative"},
)


def test_a_records_nature_follows_its_field() -> None:
    assert GRADE.nature_of(lambda: {"grade": "A"}) == "positive"
    assert GRADE.nature_of(lambda: {"grade": "D"}) == "negative"
    assert GRADE.nature_of(lambda: {"grade": "B"}) == "neutral"
    assert GRADE.nature_of(lambda: {}) == "neutral"
    plain = dataclasses.replace(GRADE, nature_field="", nature_values={})
    assert plain.nature_of(lambda: {"grade": "D"}) == "neutral"


def test_an_item_stored_and_read_back_keeps_its_nature_by_value() -> None:
    again = item_from_definition(definition_of(GRADE))
    assert (again.nature_field, again.nature_values) == (
        "grade",
        {"A": "positive", "D": "negative"},
    )
    plain = dataclasses.replace(GRADE, nature_field="", nature_values={})
    assert "nature_by_value" not in definition_of(plain)


def test_a_nature_by_value_names_a_property_and_known_natures() -> None:
    assert check_item(GRADE) == []
    wrong = dataclasses.replace(GRADE, nature_field="grde", nature_values={"A": "good"})
    assert ("nature_by_value.values.A", "positive, negative or neutral") in check_item(wrong)
    assert any(f == "nature_by_value.field" for f, _ in check_item(wrong))
    assert ("nature_by_value.field", "required with values") in check_item(
        dataclasses.replace(GRADE, nature_field="")
    )
