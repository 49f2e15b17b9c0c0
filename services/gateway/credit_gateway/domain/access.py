"""Scopes, query levels and what each level may see of a natural person."""

from __future__ import annotations

import enum
from dataclasses import dataclass

SCOPES = frozenset(
    {
        "credit:shared",
        "credit:authorized",
        "credit:restricted",
        "subject:self",
        "registry:write",
        "records:write",
        "lists:write",
        "objections:file",
        "objections:handle",
        "objections:verify",
        "audit:read",
        "admin",
    }
)

DEPARTMENTS = frozenset(
    {
        "development_reform",
        "market_regulation",
        "tax",
        "court",
        "finance",
        "human_resources",
        "ecology_environment",
        "emergency_management",
        "housing_construction",
        "transport",
        "public_security",
        "civil_affairs",
    }
)


def department_problem(department: str) -> str | None:
    """Why `department` is not one clients can belong to, or None when it is."""
    if department in DEPARTMENTS:
        return None
    return f"unknown department {department!r}: one of {', '.join(sorted(DEPARTMENTS))}"


class Level(enum.IntEnum):
    PUBLIC = 0
    SHARED = 1
    AUTHORIZED = 2
    RESTRICTED = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Level:
        return cls[text.upper()]


@dataclass(frozen=True)
class Caller:
    """Who is asking: an anonymous member of the public or an authenticated client."""

    client_id: str = ""
    department: str = ""
    scopes: frozenset[str] = frozenset()
    subject_code: str = ""
    # The client's own rate limit, when it has one.
    rate_per_second: float | None = None
    rate_burst: int | None = None

    @property
    def anonymous(self) -> bool:
        return not self.client_id

    def max_level(self, *, with_authorization: bool = False) -> Level:
        """The highest level the token allows: `credit:authorized` opens the authorized
        level only with a subject's grant (`with_authorization`), for that subject; without
        one it opens nothing past the public level (the shared level is government use,
        `credit:shared`'s, and a grant's holder is not let past it on other subjects)."""
        if "credit:restricted" in self.scopes:
            return Level.RESTRICTED
        if "credit:authorized" in self.scopes and with_authorization:
            return Level.AUTHORIZED
        if "credit:shared" in self.scopes:
            return Level.SHARED
        return Level.PUBLIC

    @property
    def speaks_for_a_subject(self) -> bool:
        """A subject's own client (`subject:self`, bound to its code)."""
        return "subject:self" in self.scopes and bool(self.subject_code)

    def is_self(self, code: str) -> bool:
        return self.speaks_for_a_subject and self.subject_code == code

    def lifted_to(self, level: Level) -> bool:
        """Whether a read at `level` is past what the token allows on its own (or at the
        authorized level, which only a grant opens): a grant named is what serves it."""
        return level == Level.AUTHORIZED or level > self.max_level()


PURPOSE_MIN, PURPOSE_MAX = 2, 200
