"""Request and response bodies of the HTTP contract (API.md), named by direction."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    scope: str


class ClientCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    department: str = Field(min_length=1, max_length=64)
    scopes: list[str] = Field(max_length=20)
    subject_code: str | None = Field(default=None, max_length=32)


class ClientPublic(BaseModel):
    client_id: str
    name: str
    department: str
    scopes: list[str]
    subject_code: str | None
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    active: bool


class ClientCreated(ClientPublic):
    client_secret: str = Field(description="shown once; only its hash is kept")


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
    registered_on: dt.date | None = None
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
    kind: str | None
    reason: str | None = None
    warnings: list[str] | None = None
    note: str | None = None
    registered: bool | None = None


class ValidateResponse(BaseModel):
    results: list[CodeResult]


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[dict[str, str]] | None = None
