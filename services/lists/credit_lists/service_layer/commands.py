"""What callers ask of the lists service, free of proto and HTTP types."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Caller:
    client_id: str
    department: str


@dataclass(frozen=True)
class Propose:
    caller: Caller
    subject_code: str
    list_type: str
    reason: str
    decision_ref: str
    basis_record_ids: list[str] = field(default_factory=list)
    valid_until: dt.datetime | None = None


@dataclass(frozen=True)
class Remove:
    caller: Caller
    entry_id: uuid.UUID
    reason: str
    withdraw: bool = False


@dataclass(frozen=True)
class Search:
    list_type: str = ""
    state: str = ""
    subject_id: uuid.UUID | None = None
    current_only: bool = False
    page_size: int = 50
    offset: int = 0


@dataclass(frozen=True)
class Feedback:
    caller: Caller
    entry_id: uuid.UUID
    measure_code: str
    applied_on: str
    outcome: str
    note: str
