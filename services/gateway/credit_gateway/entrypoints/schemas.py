"""Request and response bodies of the HTTP contract (API.md), named by direction."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    model_validator,
)

from credit_common.timeutil import ISO_DAY, NOT_A_DAY
from credit_gateway.domain.access import department_problem

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})?"
)


def _rfc3339_text(value: object) -> object:
    """Text must be an RFC 3339 date-time: pydantic alone also takes "0.5" as a Unix time."""
    if isinstance(value, str) and not _RFC3339.fullmatch(value.strip()):
        raise ValueError("expected an RFC 3339 date-time such as 2026-05-01T08:00:00+08:00")
    return value


def _known_department(value: str) -> str:
    """A department clients can belong to: one no client can be of would name an authority
    that no one can act for (a list type whose entries no one may write)."""
    problem = department_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _known_department_or_any(value: str) -> str:
    return value if value == "*" else _known_department(value)


# A department as clients have them; a catalog item's sources may also be "*" (any).
SourceDepartment = Annotated[str, AfterValidator(_known_department_or_any)]
Department = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_known_department)]


# What a request body may hold, beyond each field's own rules: everything below reaches a
# service as protobuf and a database as text or jsonb, where it would fail (a 500) or be
# changed without a word.
MAX_DEPTH = 32  # objects and arrays within one another (protobuf's decoder stops at 64)
MAX_EXACT_INT = 2**53  # past it a JSON number is no longer exact (a Struct holds doubles)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "text must not contain NUL characters"
    if not text.isascii() and _SURROGATE.search(text):
        return "text must not contain lone surrogates (\\ud800-\\udfff): not Unicode text"
    return None


def body_problem(value: Any, depth: int = 0) -> str | None:
    """Why a decoded JSON body cannot be taken as it is, or None: NUL characters (which
    PostgreSQL cannot store), lone surrogates (which are not text), numbers that are not
    finite or not exact, nesting past MAX_DEPTH."""
    if isinstance(value, str):
        return _text_problem(value)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else "numbers must be finite (no NaN or Infinity)"
    if isinstance(value, int):
        return (
            None if -MAX_EXACT_INT <= value <= MAX_EXACT_INT else "integers must lie within ±2^53"
        )
    if depth >= MAX_DEPTH:
        return f"objects and arrays nest at most {MAX_DEPTH} deep"
    if isinstance(value, dict):
        for key, inner in value.items():
            problem = _text_problem(key) if isinstance(key, str) else None
            if problem := problem or body_problem(inner, depth + 1):
                return problem
        return None
    if isinstance(value, list | tuple):
        if all(type(v) is str for v in value):  # a batch of codes: one look at them all
            return _text_problem("".join(value))
        for inner in value:
            if problem := body_problem(inner, depth + 1):
                return problem
    return None


def _representable(value: dt.datetime) -> dt.datetime:
    """A moment whose offset carries it out of the years 1-9999 in UTC cannot be compared
    or stored (0001-01-01T00:00+08:00 is in year 0 in UTC)."""
    if value.tzinfo is not None:
        try:
            value.astimezone(dt.UTC)
        except OverflowError as error:
            raise ValueError("the moment falls outside the years 1-9999 in UTC") from error
    return value


def _json_moment(value: object) -> object:
    """A moment in a body is RFC 3339 text: pydantic alone also takes a number, or
    "1767225600", as a Unix time."""
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("expected an RFC 3339 date-time such as 2026-05-01T08:00:00+08:00")
    return _rfc3339_text(value)


def _json_date(value: object) -> object:
    """A date in a body is YYYY-MM-DD text: pydantic alone also takes 0, or "1714521600",
    as a Unix time (1970-01-01, 2024-05-01)."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not (isinstance(value, str) and ISO_DAY.fullmatch(value)):
        raise ValueError(NOT_A_DAY)
    return value


# A moment given as text (query parameters): RFC 3339 only.
Instant = Annotated[dt.datetime, BeforeValidator(_rfc3339_text), AfterValidator(_representable)]
# A moment in a request body: RFC 3339 text only.
Moment = Annotated[dt.datetime, BeforeValidator(_json_moment), AfterValidator(_representable)]
# A date in a request body: YYYY-MM-DD text only.
Day = Annotated[dt.date, BeforeValidator(_json_date)]


class Strict(BaseModel):
    """Request bodies: no unknown fields, and nothing `body_problem` refuses (refused here
    rather than failing in a service)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        if problem := body_problem(data):
            raise ValueError(problem)
        return data


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    scope: str


class RateLimit(Strict):
    per_second: float = Field(gt=0, le=100_000)
    burst: StrictInt = Field(ge=1, le=1_000_000)


class ClientCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    department: str = Field(min_length=1, max_length=64)
    scopes: list[str] = Field(max_length=20)
    subject_code: str | None = Field(default=None, max_length=32)
    rate_limit: RateLimit | None = Field(default=None, description="this client's own limit")


class ClientPublic(BaseModel):
    client_id: str
    name: str
    department: str
    scopes: list[str]
    subject_code: str | None
    rate_limit: RateLimit | None = Field(description="its own limit; null: the default")
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    active: bool


class ClientCreated(ClientPublic):
    client_secret: str | None = Field(
        description="shown once; only its hash is kept (null in a replay of the same "
        "Idempotency-Key: the secret is not kept for replays)"
    )


class ClientList(BaseModel):
    items: list[ClientPublic]


class LegacyCodeBody(Strict):
    type: Literal["org_code", "registration_number", "tax_registration_number"]
    value: str = Field(min_length=1, max_length=32)


class SubjectCreate(Strict):
    kind: Literal["organization", "individual_business", "natural_person"]
    name: str = Field(min_length=1, max_length=200)
    registration_authority: str = Field(default="", max_length=1)
    org_category: str = Field(default="", max_length=1)
    division_code: str = Field(default="", max_length=6)
    org_code: str | None = Field(default=None, max_length=9)
    id_number: str | None = Field(default=None, max_length=18)
    legal_representative: str | None = Field(default=None, max_length=100)
    registered_on: Day | None = None
    legacy_codes: list[LegacyCodeBody] = Field(default_factory=list, max_length=10)


class SubjectUpdate(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    legal_representative: str | None = Field(default=None, max_length=100)
    status: Literal["active", "revoked", "deregistered"] | None = None
    reason: str | None = Field(default=None, max_length=500)


class SubjectMerge(Strict):
    into: str = Field(min_length=1, max_length=32)
    reason: str = Field(min_length=1, max_length=500)


class FormerNamePublic(BaseModel):
    name: str
    until: dt.datetime | None


class LegacyCodePublic(BaseModel):
    type: str
    value: str


class SubjectPublic(BaseModel):
    code: str
    name: str
    kind: str
    status: str
    registration_authority: str
    org_category: str
    division_code: str
    org_code: str | None
    legal_representative: str | None
    registered_on: dt.date | None
    former_names: list[FormerNamePublic]
    legacy_codes: list[LegacyCodePublic]
    merged_codes: list[str]
    requested_code: str | None = Field(
        default=None, description="the code asked for, when it was a legacy or merged code"
    )
    level: str


class SubjectPage(BaseModel):
    items: list[SubjectPublic]
    next_page_token: str | None = None
    level: str


class ValidateRequest(Strict):
    codes: list[str] = Field(max_length=10_000)


class CodeResult(BaseModel):
    code: str
    valid: bool
    kind: str | None = Field(
        description="uscc, citizen_id, org_code, registration_number, or "
        "tax_registration_number (a legacy 15-character tax number: division code and "
        "organisation code); null when the code fits none"
    )
    reason: str | None = None
    warnings: list[str] | None = None
    note: str | None = None
    registered: bool | None = None


class ValidateResponse(BaseModel):
    results: list[CodeResult]
    level: str


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[dict[str, str]] | None = None


class SeverityWindowIn(Strict):
    publish: StrictBool = Field(default=False, description="false: records of it stay unpublished")
    min_months: StrictInt = Field(default=0, ge=0, description="before a repair may end it")
    max_months: StrictInt = Field(default=0, ge=0)


class PublicityRuleIn(Strict):
    """A publicity rule as the catalog answers it: unknown names are refused, not dropped
    (a window's months would otherwise become 0 without a word)."""

    kind: Literal["fixed", "by_severity", "field_until", "while_active", "none"] = "none"
    months: StrictInt = Field(default=0, ge=0)
    days: StrictInt = Field(default=0, ge=0)
    min_days: StrictInt = Field(default=0, ge=0)
    until_field: str = Field(default="", max_length=64)
    by_severity: dict[str, SeverityWindowIn] = Field(default_factory=dict, max_length=20)


class NatureByValue(Strict):
    """A record's nature by the value of one of its fields; other values have the item's."""

    field: str = Field(min_length=1, max_length=64)
    values: dict[str, Literal["positive", "negative", "neutral"]] = Field(
        min_length=1, max_length=50
    )


class CatalogItemCreate(Strict):
    item_code: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    name: str = Field(min_length=1, max_length=200)
    category: str = Field(min_length=1, max_length=100)
    nature: Literal["positive", "negative", "neutral"]
    nature_by_value: NatureByValue | None = Field(
        default=None,
        description="a record's nature by one of its fields' value (tax grades: A positive, "
        "D negative); values not named have `nature`",
    )
    disclosure: Literal["public", "shared", "authorized", "restricted"]
    source_departments: list[SourceDepartment] = Field(
        min_length=1, max_length=50, description="departments that may write it, or `*` (any)"
    )
    publicity_days: StrictInt | None = Field(
        default=None, ge=0, le=36500, description="fixed publicity from the decision date"
    )
    min_publicity_days: StrictInt | None = Field(
        default=None, ge=0, le=36500, description="before a repair may end publicity"
    )
    publicity: PublicityRuleIn | None = Field(
        default=None, description="a full publicity rule (in place of publicity_days)"
    )
    retention_days: StrictInt = Field(
        default=1825,
        ge=1,
        le=36500,
        description="after publicity; 365 days a year: 1825 is 5 years",
    )
    repairable: StrictBool = False
    non_repairable_kinds: list[str] = Field(default_factory=list, max_length=50)
    late_after_workdays: StrictInt = Field(default=0, ge=0, le=365)
    fields: dict[str, Any] = Field(description="JSON Schema of the record fields (type object)")


class CatalogItemPublic(BaseModel):
    item_code: str
    name: str
    category: str
    nature: str
    nature_by_value: dict[str, Any] | None = None
    disclosure: str
    source_departments: list[str]
    publicity_days: int | None = Field(description="a fixed publicity in days; else null")
    min_publicity_days: int
    publicity: dict[str, Any]
    retention_days: int
    repairable: bool
    non_repairable_kinds: list[str]
    fields: dict[str, Any]
    schema_version: int
    late_after_workdays: int


class CatalogList(BaseModel):
    items: list[CatalogItemPublic]


class RecordCreate(Strict):
    subject_code: str = Field(min_length=1, max_length=32)
    item_code: str = Field(min_length=1, max_length=64)
    source_ref: str = Field(min_length=1, max_length=200)
    decided_on: Day
    fields: dict[str, Any]


class RecordCorrect(Strict):
    fields: dict[str, Any]
    reason: str = Field(min_length=1, max_length=500)


class RecordWithdraw(Strict):
    reason: str = Field(min_length=1, max_length=500)


class RecordPublic(BaseModel):
    record_id: str
    subject_code: str
    item_code: str
    item_name: str
    category: str
    nature: str
    disclosure: str
    department: str
    source_ref: str
    decided_on: dt.date
    status: Literal["active", "corrected", "withdrawn", "expired"]
    version: int
    fields: dict[str, Any]
    severity: str | None = None
    publicity_until: dt.date | None = None
    retention_until: dt.date | None = None
    publicly_visible: bool
    never_public: bool
    late: bool
    repairable: bool
    repair_possible_from: dt.date | None = None
    repaired: bool
    under_objection: bool
    submitted_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    calendar_note: str | None = None
    level: str


class RecordPage(BaseModel):
    items: list[RecordPublic]
    next_page_token: str | None = None
    level: str
    as_of: dt.datetime | None = None


class RecordVersionPublic(BaseModel):
    version: int
    fields: dict[str, Any]
    submitted_by: str
    department: str
    submitted_at: dt.datetime | None
    reason: str | None


class RecordVersions(BaseModel):
    record_id: str
    versions: list[RecordVersionPublic]
    level: str


class RowErrorPublic(BaseModel):
    field: str
    message: str


class RejectedRowPublic(BaseModel):
    row: int
    errors: list[RowErrorPublic]


class BulkResult(BaseModel):
    accepted: int
    unchanged: int
    rejected: list[RejectedRowPublic]
    rejected_count: int
    atomic: bool
    stored_nothing: bool = Field(description="true when atomic and a row was rejected")
    columns_not_stored: list[str] = Field(
        default_factory=list,
        description="descriptive columns the rows held (subject name, legal representative,"
        " remarks, data source; lower-cased), read and not stored: the registry keeps the"
        " subject's own data, and a record keeps the fields its catalog item names",
    )


class ListTypeCreate(Strict):
    list_type: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    name: str = Field(min_length=1, max_length=200)
    color: Literal["red", "black", "watch"]
    authority_department: Department
    publicity_days: StrictInt = Field(default=0, ge=0, le=3650)
    default_duration_days: StrictInt = Field(
        default=0, ge=0, le=36500, description="0: until removed"
    )
    max_duration_days: StrictInt = Field(default=0, ge=0, le=36500, description="0: no maximum")
    min_duration_days: StrictInt = Field(default=0, ge=0, le=36500, description="0: no minimum")
    min_days_before_repair: StrictInt = Field(default=0, ge=0, le=36500)
    repairable: StrictBool = False
    basis: str = Field(default="", max_length=1000)


class ListTypePublic(BaseModel):
    list_type: str
    name: str
    color: str
    authority_department: str
    publicity_days: int
    default_duration_days: int
    max_duration_days: int
    min_duration_days: int
    min_days_before_repair: int
    repairable: bool
    basis: str
    version: int


class ListTypeList(BaseModel):
    items: list[ListTypePublic]


class MeasureCreate(Strict):
    measure_code: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["punish", "reward"]
    implementing_department: Department
    list_types: list[str] = Field(min_length=1, max_length=50)
    basis: str = Field(default="", max_length=1000)


class MeasurePublic(BaseModel):
    measure_code: str
    name: str
    kind: str
    implementing_department: str
    list_types: list[str]
    basis: str
    version: int


class MeasureList(BaseModel):
    items: list[MeasurePublic]


class EntryCreate(Strict):
    subject_code: str = Field(min_length=1, max_length=32)
    list_type: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=1000)
    decision_ref: str = Field(min_length=1, max_length=200)
    basis_record_ids: list[str] = Field(default_factory=list, max_length=100)
    valid_until: Moment | None = None


class EntryRemove(Strict):
    reason: str = Field(min_length=1, max_length=1000)
    withdraw: StrictBool = Field(
        default=False, description="listed in error: withdrawn rather than removed"
    )


class TransitionPublic(BaseModel):
    from_state: str
    to_state: str
    at: dt.datetime | None
    actor: str
    reason: str


class EntryPublic(BaseModel):
    entry_id: str
    subject_code: str
    subject_name: str
    list_type: str
    color: str
    state: Literal["publicity", "effective", "expired", "removed", "withdrawn"]
    reason: str
    decision_ref: str
    basis_record_ids: list[str]
    department: str
    proposed_at: dt.datetime | None
    publicity_until: dt.datetime | None
    effective_from: dt.datetime | None
    valid_until: dt.datetime | None
    under_objection: bool
    repairable: bool
    repair_possible_from: dt.datetime | None
    history: list[TransitionPublic] | None = None
    level: str


class EntryPage(BaseModel):
    items: list[EntryPublic]
    next_page_token: str | None = None
    level: str


class TriggeredMeasurePublic(BaseModel):
    measure_code: str
    name: str
    kind: str
    entry_id: str
    list_type: str
    basis: str
    implementing_department: str


class SubjectLists(BaseModel):
    code: str
    restricted: bool
    rewarded: bool
    entries: list[EntryPublic]
    measures: list[TriggeredMeasurePublic]
    level: str


class RestrictionCheck(Strict):
    subject_codes: list[str] = Field(min_length=1, max_length=10_000)
    measure_codes: list[str] = Field(default_factory=list, max_length=200)


class RestrictionResult(BaseModel):
    code: str
    restricted: bool
    rewarded: bool
    measures: list[TriggeredMeasurePublic]
    canonical_code: str | None = None
    error: str | None = None


class RestrictionResults(BaseModel):
    results: list[RestrictionResult]
    level: str


class FeedbackCreate(Strict):
    entry_id: str = Field(min_length=36, max_length=36)
    measure_code: str = Field(min_length=1, max_length=64)
    applied_on: Day
    outcome: str = Field(min_length=1, max_length=200)
    note: str = Field(default="", max_length=1000)


class FeedbackPublic(BaseModel):
    feedback_id: str
    entry_id: str
    measure_code: str
    department: str
    applied_on: dt.date
    outcome: str
    note: str


class FeedbackCount(BaseModel):
    measure_code: str
    department: str
    month: str
    count: int


class FeedbackStatistics(BaseModel):
    results: list[FeedbackCount]


class TargetBody(Strict):
    kind: Literal["record", "list_entry"]
    id: str = Field(min_length=1, max_length=64, description="the record id or list entry id")


class EvidenceBody(Strict):
    name: str = Field(min_length=1, max_length=200)
    sha256: str = Field(
        pattern=r"^[0-9a-fA-F]{64}$", description="SHA-256 of the document (64 hex characters)"
    )


class ObjectionCreate(Strict):
    target: TargetBody
    reason: str = Field(min_length=1, max_length=2000)
    evidence: list[EvidenceBody] = Field(default_factory=list, max_length=50)
    subject_code: str | None = Field(
        default=None,
        max_length=32,
        description="the subject a service window acts for; the target must belong to it",
    )


class ObjectionStep(Strict):
    reason: str = Field(min_length=1, max_length=2000)


class ObjectionWithdraw(Strict):
    reason: str = Field(default="", max_length=2000)


class ObjectionVerify(Strict):
    finding: Literal["error_confirmed", "no_error"]
    corrected_fields: dict[str, Any] | None = Field(
        default=None,
        description="with error_confirmed: the fields to correct (none: an upheld objection "
        "withdraws the record)",
    )
    note: str = Field(min_length=1, max_length=2000)


class ObjectionDecide(Strict):
    decision: Literal["upheld", "dismissed"]
    reason: str = Field(min_length=1, max_length=2000)


class TargetPublic(BaseModel):
    kind: str
    id: str


class EvidencePublic(BaseModel):
    name: str
    sha256: str


class CaseStepPublic(BaseModel):
    from_state: str | None
    to_state: str
    action: str
    at: dt.datetime
    actor: str
    department: str | None
    reason: str
    evidence: list[EvidencePublic]
    detail: str | None = None


_OVERDUE = (
    "a due date passed without its step: the open stage's now, or one missed before, which stays so"
)
_MISSED = "the end of the first due date a step (or the close) came after"


class ObjectionPublic(BaseModel):
    objection_id: str
    target: TargetPublic
    subject_code: str
    state: Literal[
        "submitted", "verifying", "verified", "upheld", "dismissed", "rejected", "withdrawn"
    ]
    reason: str
    evidence: list[EvidencePublic]
    filed_by: str
    filed_at: dt.datetime
    source_department: str = Field(description="the department that verifies the target")
    accept_due: dt.date
    verify_due: dt.date | None = None
    decide_due: dt.date | None = None
    due_at: dt.datetime | None = Field(
        default=None, description="the end of the current stage's due date"
    )
    overdue: bool = Field(description=_OVERDUE)
    missed_due_at: dt.datetime | None = Field(default=None, description=_MISSED)
    calendar_note: str | None = None
    finding: str | None = None
    corrected_fields: dict[str, Any] | None = None
    verification_note: str | None = None
    decision: str | None = None
    decision_reason: str | None = None
    closed_at: dt.datetime | None = None
    transitions: list[CaseStepPublic] = Field(
        default_factory=list, description="every step (in single reads; empty in listings)"
    )
    level: str


class ObjectionPage(BaseModel):
    items: list[ObjectionPublic]
    next_page_token: str | None = None
    level: str = Field(description="the lowest of its items' levels")


class RepairCreate(Strict):
    target: TargetBody
    grounds: str = Field(min_length=1, max_length=2000)
    evidence: list[EvidenceBody] = Field(default_factory=list, max_length=50)
    commitment: StrictBool = Field(description="the public credit commitment; must be true")
    subject_code: str | None = Field(default=None, max_length=32)


class RepairDecide(Strict):
    decision: Literal["approved", "rejected"]
    reason: str = Field(min_length=1, max_length=2000)


class RepairPublic(BaseModel):
    repair_id: str
    target: TargetPublic
    subject_code: str
    state: Literal["submitted", "approved", "rejected", "withdrawn"]
    grounds: str
    evidence: list[EvidencePublic]
    commitment: bool
    filed_by: str
    filed_at: dt.datetime
    decide_due: dt.date
    due_at: dt.datetime | None = None
    overdue: bool = Field(description=_OVERDUE)
    missed_due_at: dt.datetime | None = Field(default=None, description=_MISSED)
    calendar_note: str | None = None
    decision: str | None = None
    decision_reason: str | None = None
    closed_at: dt.datetime | None = None
    transitions: list[CaseStepPublic] = Field(default_factory=list)
    level: str


class RepairPage(BaseModel):
    items: list[RepairPublic]
    next_page_token: str | None = None
    level: str = Field(description="the lowest of its items' levels")


class AuthorizationCreate(Strict):
    grantee_client_id: str = Field(min_length=1, max_length=64)
    expires_at: Moment
    purpose: str = Field(min_length=2, max_length=200)


class AuthorizationPublic(BaseModel):
    authorization_id: str
    grantee_client_id: str
    purpose: str
    expires_at: dt.datetime
    revoked_at: dt.datetime | None = None
    active: bool


class AuditEntry(BaseModel):
    seq: int
    at: dt.datetime
    client_id: str
    department: str
    subject_code: str | None = Field(
        default=None, description="absent for natural persons below restricted"
    )
    level: str
    purpose: str
    what: str
    request_id: str
    authorization_id: str | None = None


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_page_token: str | None = None


class CreditReport(BaseModel):
    report_id: str
    generated_at: dt.datetime
    level: str
    as_of: dt.datetime | None = None
    subject: SubjectPublic
    records_by_category: dict[str, list[RecordPublic]]
    lists: SubjectLists
    open_objections: list[dict[str, Any]]
