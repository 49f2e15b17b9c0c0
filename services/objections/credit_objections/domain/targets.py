"""What the owners of records and list entries say about a target, and what that allows."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from credit_common.errors import DomainError
from credit_objections.domain.cases import TargetRef


@dataclass(frozen=True)
class TargetFacts:
    ref: TargetRef
    subject_id: uuid.UUID
    subject_key: str
    # The department that produced the target (a record's source; a list type's authority).
    source_department: str
    # record: active | corrected | withdrawn | expired; entry: publicity | effective | ...
    status: str
    repaired: bool = False
    never_public: bool = False
    publicity_until: dt.date | None = None
    # The catalog item or list type allows repair at all.
    kind_repairable: bool = False
    # Penalty kinds that forbid repair before the maximum publicity.
    blocking_kinds: tuple[str, ...] = ()
    repair_possible_from: dt.date | None = None
    # A record's item, current fields and its item's JSON Schema (to check corrections).
    item_code: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    fields_schema: dict[str, Any] = field(default_factory=dict)

    @property
    def withdrawn(self) -> bool:
        return self.status == "withdrawn"

    @property
    def ended(self) -> bool:
        """A list entry no longer listed (removed or expired), or a record past its
        retention (expired: shown at no level but restricted, and kept no longer)."""
        if self.ref.kind == "record":
            return self.status == "expired"
        return self.status in ("removed", "expired")

    @property
    def noun(self) -> str:
        return "record" if self.ref.kind == "record" else "list entry"


def check_objectionable(facts: TargetFacts) -> None:
    """An objection needs a target that is still shown."""
    if facts.withdrawn:
        raise DomainError(f"the {facts.noun} is already withdrawn", "target_withdrawn")
    if facts.ended:
        what = "no longer listed" if facts.ref.kind == "list_entry" else "past its retention"
        raise DomainError(f"the {facts.noun} is {facts.status}: {what}", "target_ended")
