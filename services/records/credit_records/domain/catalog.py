"""Catalog items (信用信息目录): what may enter a record, who may send it, how long it shows."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from credit_common.record_rules import MAX_SEVERITY


class Level(enum.IntEnum):
    PUBLIC = 0
    SHARED = 1
    AUTHORIZED = 2
    RESTRICTED = 3

    @property
    def label(self) -> str:
        return self.name.lower()


DISCLOSURES = {level.label: level for level in Level}
NATURES = ("positive", "negative", "neutral")
PUBLICITY_KINDS = ("fixed", "by_severity", "field_until", "while_active", "none")
MAX_DAYS = 36500
"""Longest publicity, wait before repair or retention, in days (100 years, as the gateway's
catalog body allows): past it a window is no rule but a typo, and 2^31 days overflowed the
date arithmetic of every record of the item."""
MAX_MONTHS = 1200
"""Longest publicity in months (100 years)."""


@dataclass(frozen=True)
class SeverityWindow:
    publish: bool
    min_months: int = 0
    max_months: int = 0


@dataclass(frozen=True)
class PublicityRule:
    kind: str
    months: int = 0
    until_field: str = ""
    by_severity: dict[str, SeverityWindow] = field(default_factory=dict)
    days: int = 0
    min_days: int = 0


@dataclass(frozen=True)
class CatalogItem:
    item_code: str
    name: str
    category: str
    nature: str
    disclosure: Level
    source_departments: tuple[str, ...]
    publicity: PublicityRule
    retention_days: int
    repairable: bool
    non_repairable_kinds: tuple[str, ...]
    fields_schema: dict[str, Any]
    schema_version: int = 1
    late_after_workdays: int = 0
    # A record's nature by the value of this field (values not in nature_values: `nature`).
    nature_field: str = ""
    nature_values: dict[str, str] = field(default_factory=dict)

    def accepts_from(self, department: str) -> bool:
        return "*" in self.source_departments or department in self.source_departments

    def nature_of(self, fields: Callable[[], dict[str, Any]]) -> str:
        """A record's nature: by its field's value where the item says so, else the item's.
        `fields` gives the record's fields, asked for only then (a read that passes them
        on as JSON text does not decode them)."""
        if not self.nature_field:
            return self.nature
        return self.nature_values.get(str(fields().get(self.nature_field, "")), self.nature)


def check_item(item: CatalogItem) -> list[tuple[str, str]]:
    """What is wrong with an item definition, as (field, message) pairs."""
    problems: list[tuple[str, str]] = []
    if (
        not item.item_code
        or not item.item_code.replace("_", "").isalnum()
        or len(item.item_code) > 64
    ):
        problems.append(("item_code", "letters, digits and _ (at most 64)"))
    if not item.name.strip():
        problems.append(("name", "required"))
    if item.nature not in NATURES:
        problems.append(("nature", "positive, negative or neutral"))
    problems += _nature_by_value_problems(item)
    if item.publicity.kind not in PUBLICITY_KINDS:
        problems.append(("publicity.kind", ", ".join(PUBLICITY_KINDS)))
    if item.publicity.kind == "fixed" and item.publicity.months <= 0 and item.publicity.days <= 0:
        problems.append(("publicity_days", "months or days must be positive"))
    if item.publicity.kind == "fixed" and item.publicity.months > 0 and item.publicity.days > 0:
        problems.append(("publicity.days", "a fixed publicity is months or days, not both"))
    if item.publicity.min_days < 0:
        problems.append(("min_publicity_days", "must not be negative"))
    if (
        item.publicity.kind == "fixed"
        and (item.publicity.days or item.publicity.months * 28)  # the shortest such months
        <= item.publicity.min_days
        <= MAX_DAYS
    ):  # repair comes the day after the minimum: it could never end the publicity early
        problems.append(("min_publicity_days", "shorter than the publicity itself"))
    if item.publicity.kind == "field_until":
        problems += _until_field_problems(item)
    for severity, window in item.publicity.by_severity.items():
        if window.publish and not 0 <= window.min_months <= window.max_months:
            problems.append((f"publicity.by_severity.{severity}", "0 <= min_months <= max_months"))
        if len(severity) > MAX_SEVERITY:  # "" is the window of records without a severity
            problems.append(
                (f"publicity.by_severity.{severity}", f"at most {MAX_SEVERITY} characters")
            )
    if item.publicity.kind == "by_severity" and not item.publicity.by_severity:
        problems.append(("publicity.by_severity", "required"))
    if item.retention_days <= 0:
        problems.append(("retention_days", "must be positive"))
    problems += _too_long(item)
    if not item.source_departments:
        problems.append(("source_departments", "at least one department, or *"))
    if item.fields_schema.get("type") != "object":
        problems.append(("fields", "a JSON Schema of type object"))
    return problems


# Keywords by which a JSON Schema may let properties in that its `properties` do not list.
_COMPOSED = {"allOf", "anyOf", "oneOf", "$ref", "$dynamicRef", "if", "dependentSchemas"}


def _until_field_problems(item: CatalogItem) -> list[tuple[str, str]]:
    """A field_until rule must name one of the schema's top-level properties: a name that
    is not there leaves every record of the item public without end. A schema that lists
    no properties, or may add some by other keywords (allOf, $ref...), cannot tell."""
    until_field = item.publicity.until_field
    if not until_field:
        return [("publicity.until_field", "required")]
    schema = item.fields_schema
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not properties or _COMPOSED & schema.keys():
        return []
    names = sorted(properties)
    if until_field in names:
        return []
    there = ", ".join(names)
    return [
        (
            "publicity.until_field",
            f"{until_field!r} is not a property of fields (its properties: {there})"[:300],
        )
    ]


def _nature_by_value_problems(item: CatalogItem) -> list[tuple[str, str]]:
    """A nature by value names a top-level property of the fields (when the schema lists
    them) and gives natures the catalog knows."""
    if not item.nature_field:
        if item.nature_values:
            return [("nature_by_value.field", "required with values")]
        return []
    problems = []
    if not item.nature_values:
        problems.append(("nature_by_value.values", "at least one"))
    for value, nature in item.nature_values.items():
        if nature not in NATURES:
            problems.append(
                (f"nature_by_value.values.{value}"[:100], "positive, negative or neutral")
            )
    properties = item.fields_schema.get("properties")
    if (
        isinstance(properties, dict)
        and properties
        and not _COMPOSED & item.fields_schema.keys()
        and item.nature_field not in properties
    ):
        problems.append(
            ("nature_by_value.field", f"{item.nature_field!r} is not a property of fields"[:300])
        )
    return problems


def _too_long(item: CatalogItem) -> list[tuple[str, str]]:
    rule = item.publicity
    spans = [
        ("publicity.months", rule.months, MAX_MONTHS),
        ("publicity_days", rule.days, MAX_DAYS),
        ("min_publicity_days", rule.min_days, MAX_DAYS),
        ("retention_days", item.retention_days, MAX_DAYS),
        *(
            (f"publicity.by_severity.{severity}", window.max_months, MAX_MONTHS)
            for severity, window in rule.by_severity.items()
        ),
    ]
    problems = [(name, f"at most {most}") for name, value, most in spans if value > most]
    if rule.months < 0:
        problems.append(("publicity.months", "must not be negative"))
    return problems
