"""What callers ask of the registry, free of proto and HTTP types."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from credit_registry.domain.subjects import Kind, LegacyCode, Status


@dataclass(frozen=True)
class Register:
    kind: Kind
    name: str
    registration_authority: str = ""
    org_category: str = ""
    division_code: str = ""
    org_code: str = ""
    id_number: str = ""
    legal_representative: str = ""
    registered_on: dt.date | None = None
    legacy_codes: list[LegacyCode] = field(default_factory=list)
    actor: str = ""


@dataclass(frozen=True)
class Update:
    code: str
    name: str | None = None
    legal_representative: str | None = None
    status: Status | None = None
    reason: str = ""
    actor: str = ""


@dataclass(frozen=True)
class Merge:
    code: str
    into: str
    reason: str
    actor: str = ""


@dataclass(frozen=True)
class Search:
    q: str = ""
    division_code: str = ""
    kind: Kind | None = None
    status: Status | None = None
    page_size: int = 50
    offset: int = 0
    exclude_natural_persons_by_name: bool = False
