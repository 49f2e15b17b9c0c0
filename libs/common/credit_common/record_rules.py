"""Rules on a credit record's fields that more than one service applies: the records
service when it stores fields, the objections service when it checks a correction an
upheld objection will send it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from credit_common.errors import FieldViolation

MAX_SEVERITY = 16
"""Longest severity (the field that chooses a by_severity window), as records keep it."""


def severity_violations(fields: Mapping[str, Any], path: str = "fields") -> list[FieldViolation]:
    """A severity is kept with the record's window: one longer than that keeps is refused,
    whatever the item's schema allows."""
    if len(str(fields.get("severity", ""))) <= MAX_SEVERITY:
        return []
    return [FieldViolation(f"{path}.severity", f"at most {MAX_SEVERITY} characters")]
