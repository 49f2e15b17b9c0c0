"""Subjects: kinds, statuses and the rules for changing them."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from dataclasses import dataclass, field

from credit_common.errors import InvalidArgument, InvalidTransition
from credit_registry.domain import codes


class Kind(enum.StrEnum):
    ORGANIZATION = "organization"
    INDIVIDUAL_BUSINESS = "individual_business"
    NATURAL_PERSON = "natural_person"


class Status(enum.StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"
    DEREGISTERED = "deregistered"
    MERGED = "merged"


# Which status a subject may move to from which; merged is reached only by merging.
ALLOWED_STATUS_CHANGES: dict[Status, frozenset[Status]] = {
    Status.ACTIVE: frozenset({Status.REVOKED, Status.DEREGISTERED}),
    Status.REVOKED: frozenset({Status.ACTIVE, Status.DEREGISTERED}),
    Status.DEREGISTERED: frozenset(),
    Status.MERGED: frozenset(),
}

LEGACY_TYPES = ("org_code", "registration_number", "tax_registration_number")


@dataclass(frozen=True)
class LegacyCode:
    type: str
    value: str


@dataclass
class Subject:
    id: uuid.UUID
    code: str
    kind: Kind
    name: str
    status: Status
    registration_authority: str = ""
    org_category: str = ""
    division_code: str = ""
    org_code: str = ""
    legal_representative: str = ""
    registered_on: dt.date | None = None
    merged_into: uuid.UUID | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    former_names: list[tuple[str, dt.datetime]] = field(default_factory=list)
    legacy_codes: list[LegacyCode] = field(default_factory=list)
    status_history: list[tuple[Status, str, str, dt.datetime]] = field(default_factory=list)
    merged_codes: list[str] = field(default_factory=list)
    # The unified code, or for a natural person the keyed hash of the identity number.
    key: str = ""


def check_status_change(current: Status, new: Status, reason: str) -> None:
    if not reason.strip():
        raise InvalidArgument("a status change needs a reason", "reason_required")
    if new not in ALLOWED_STATUS_CHANGES[current]:
        raise InvalidTransition(f"status cannot change from {current} to {new}")


def check_merge(duplicate: Subject, survivor: Subject, reason: str) -> None:
    if not reason.strip():
        raise InvalidArgument("a merge needs a reason", "reason_required")
    if duplicate.id == survivor.id:
        raise InvalidTransition("a subject cannot be merged into itself")
    if duplicate.status == Status.MERGED:
        raise InvalidTransition(f"{duplicate.code} is already merged")
    if survivor.status == Status.MERGED:
        raise InvalidTransition(f"{survivor.code} is itself merged; merge into its survivor")
    if duplicate.kind != survivor.kind:
        raise InvalidTransition("only subjects of the same kind can be merged")


def check_legacy_code(legacy: LegacyCode) -> LegacyCode:
    value = codes.normalise(legacy.value)
    validators = {
        "org_code": codes.validate_org_code,
        "registration_number": codes.validate_registration_number,
        "tax_registration_number": codes.validate_tax_registration_number,
    }
    if legacy.type not in validators:
        raise InvalidArgument(
            f"unknown legacy code type {legacy.type!r}",
            "invalid_code",
            metadata={"allowed": ",".join(LEGACY_TYPES)},
        )
    result = validators[legacy.type](value)
    if not result.valid:
        raise InvalidArgument(f"invalid {legacy.type} {value}: {result.reason}", "invalid_code")
    return LegacyCode(legacy.type, value)


def encode_counter(value: int, width: int) -> str:
    """The counter in base 31 over the unified-code alphabet, left-padded to width."""
    alphabet = codes.USCC_ALPHABET
    digits = []
    for _ in range(width):
        value, rem = divmod(value, 31)
        digits.append(alphabet[rem])
    if value:
        raise ValueError("counter does not fit")
    return "".join(reversed(digits))
