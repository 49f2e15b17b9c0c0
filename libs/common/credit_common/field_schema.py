"""Credit record fields checked against their catalog item's JSON Schema, compiled once per
schema version: by the records service as it stores fields, and by the objections service
as it checks the correction an upheld objection will send the records service."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator


class FieldValidator:
    """Valid rows pass through the compiled fast path; an invalid row is explained field by
    field by the reference validator."""

    def __init__(self, schema: dict[str, Any]) -> None:
        Draft202012Validator.check_schema(schema)
        self._fast: Callable[[Any], Any] = fastjsonschema.compile(schema)
        # Formats checked as the fast path checks them, so that its refusals are explained.
        self._explain = Draft202012Validator(
            schema, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
        self._dates = [
            name
            for name, spec in schema.get("properties", {}).items()
            if isinstance(spec, dict) and spec.get("format") == "date"
        ]

    def errors(self, fields: Any) -> list[tuple[str, str]]:
        try:
            self._fast(fields)
        except fastjsonschema.JsonSchemaException:
            return self._explained(fields)
        problems = []
        for name in self._dates:
            value = fields.get(name)
            if value is not None:
                try:
                    dt.date.fromisoformat(value)
                except ValueError:
                    problems.append((name, f"{value!r} is not a real date"))
        return problems

    def _explained(self, fields: Any) -> list[tuple[str, str]]:
        problems = []
        for error in sorted(self._explain.iter_errors(fields), key=lambda e: list(e.path)):
            if error.validator == "required":
                missing = error.message.split("'")[1] if "'" in error.message else ""
                problems.append((missing or "fields", "required"))
            else:
                problems.append((".".join(map(str, error.path)) or "fields", error.message))
        return problems or [("fields", "do not match the item's schema")]
