"""What callers ask of the records service, free of proto and HTTP types."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from credit_records.domain.catalog import Level


@dataclass(frozen=True)
class Caller:
    client_id: str
    department: str


@dataclass(frozen=True)
class Submit:
    caller: Caller
    subject_code: str
    item_code: str
    source_ref: str
    decided_on: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class Correct:
    caller: Caller
    record_id: uuid.UUID
    fields: dict[str, Any]
    reason: str


@dataclass(frozen=True)
class Withdraw:
    caller: Caller
    record_id: uuid.UUID
    reason: str


@dataclass(frozen=True)
class ListForSubject:
    subject_id: uuid.UUID
    level: Level
    category: str = ""
    item_code: str = ""
    as_of: dt.datetime | None = None
    page_size: int = 50
    offset: int = 0
