"""What callers ask of the objections service, free of proto and HTTP types."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from credit_objections.domain.cases import Actor, Evidence, PageKey, TargetRef

MAX_PAGE = 500


@dataclass(frozen=True)
class File:
    caller: Actor
    target: TargetRef
    reason: str
    evidence: list[Evidence] = field(default_factory=list)
    # The subject the filer acts for; "" for the target's own subject.
    subject_code: str = ""


@dataclass(frozen=True)
class Step:
    """accept, reject or withdraw: who, which objection, why."""

    caller: Actor
    objection_id: uuid.UUID
    reason: str


@dataclass(frozen=True)
class Verify:
    caller: Actor
    objection_id: uuid.UUID
    finding: str
    corrected_fields: dict[str, Any] | None
    note: str


@dataclass(frozen=True)
class Decide:
    caller: Actor
    objection_id: uuid.UUID
    decision: str
    reason: str


@dataclass(frozen=True)
class Apply:
    caller: Actor
    target: TargetRef
    grounds: str
    evidence: list[Evidence]
    commitment: bool
    subject_code: str = ""


@dataclass(frozen=True)
class DecideRepair:
    caller: Actor
    repair_id: uuid.UUID
    decision: str
    reason: str


@dataclass(frozen=True)
class Listing:
    state: str = ""
    subject_id: uuid.UUID | None = None
    overdue_only: bool = False
    source_department: str = ""
    filed_by: str = ""
    page_size: int = 50
    # Where the page begins: after a case (the page tokens it gives), or at an offset (the
    # tokens of an earlier version, still honoured).
    after: PageKey | None = None
    offset: int = 0
