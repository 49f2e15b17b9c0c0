"""What objections and repair applications share: who acts, on what, with what evidence,
and the kept record of every step."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any

from credit_common.errors import FieldViolation, InvalidArgument

TARGET_KINDS = ("record", "list_entry")
# The actor of the steps the service takes itself (closing a case whose target vanished).
SERVICE = "objections"
MAX_TEXT = 2000
MAX_EVIDENCE = 50
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class Actor:
    client_id: str
    department: str


@dataclass(frozen=True)
class TargetRef:
    kind: str
    id: str


@dataclass(frozen=True)
class Evidence:
    name: str
    sha256: str


@dataclass(frozen=True)
class Subject:
    id: uuid.UUID
    # Unified code, or the registry's keyed hash of a person's identity number.
    key: str
    natural_person: bool


@dataclass(frozen=True)
class Transition:
    from_state: str  # "" for the filing
    to_state: str
    action: str
    at: dt.datetime
    actor: str
    department: str
    reason: str
    evidence: tuple[Evidence, ...] = ()
    detail: str = ""


@dataclass(frozen=True)
class PageKey:
    """Where a listing's next page begins: after the case with these sort keys (a case
    closed meanwhile does not move the others, as an offset would)."""

    due_at: dt.datetime | None
    filed_at: dt.datetime
    id: uuid.UUID

    @classmethod
    def of(cls, case: Any) -> PageKey:
        """The key of an objection or a repair application, as it was read."""
        return cls(case.due_at, case.filed_at, case.id)


def check_target(target: TargetRef) -> None:
    problems = []
    if target.kind not in TARGET_KINDS:
        problems.append(FieldViolation("target.kind", "record or list_entry"))
    if not target.id.strip() or len(target.id) > 64:
        problems.append(FieldViolation("target.id", "the id of the record or list entry"))
    if problems:
        raise InvalidArgument("invalid target", "validation_failed", problems)


def check_text(value: str, name: str, what: str) -> str:
    """A required free text (a reason, grounds, a note): refused when empty or too long."""
    text = value.strip()
    if not text:
        raise InvalidArgument(
            f"{what} needs a {name}", f"{name}_required", [FieldViolation(name, "required")]
        )
    if len(text) > MAX_TEXT:
        raise InvalidArgument(
            f"the {name} is too long",
            "validation_failed",
            [FieldViolation(name, f"at most {MAX_TEXT} characters")],
        )
    return text


def check_evidence(items: list[Evidence]) -> tuple[Evidence, ...]:
    """Each item needs a name and the document's SHA-256 (64 hex characters)."""
    problems = []
    if len(items) > MAX_EVIDENCE:
        problems.append(FieldViolation("evidence", f"at most {MAX_EVIDENCE} items"))
    for i, item in enumerate(items):
        if not item.name.strip() or len(item.name) > 200:
            problems.append(
                FieldViolation(f"evidence[{i}].name", "required, at most 200 characters")
            )
        if not _SHA256.match(item.sha256):
            problems.append(FieldViolation(f"evidence[{i}].sha256", "64 hexadecimal characters"))
    if problems:
        raise InvalidArgument("invalid evidence", "invalid_evidence", problems)
    return tuple(Evidence(i.name.strip(), i.sha256.lower()) for i in items)
