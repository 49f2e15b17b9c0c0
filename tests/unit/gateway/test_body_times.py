"""Dates and moments in request bodies: text in the contract's formats, nothing else."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from pydantic import ValidationError

from credit_gateway.entrypoints import schemas

RECORD = {
    "subject_code": "91310115MA432CTR6J",
    "item_code": "admin_penalty",
    "source_ref": "沪市监罚〔2026〕1号",
    "fields": {},
}
AUTHORIZATION = {"grantee_client_id": "bank-1", "purpose": "贷款审查"}


def record(decided_on: Any) -> schemas.RecordCreate:
    return schemas.RecordCreate.model_validate_json(
        json.dumps({**RECORD, "decided_on": decided_on})
    )


def authorization(expires_at: Any) -> schemas.AuthorizationCreate:
    body = {**AUTHORIZATION, "expires_at": expires_at}
    return schemas.AuthorizationCreate.model_validate_json(json.dumps(body))


@pytest.mark.parametrize("decided_on", [0, 1714521600, "0", "1714521600", "2026-05-01T00:00:00Z"])
def test_a_date_that_is_a_number_or_a_moment_is_refused(decided_on: Any) -> None:
    """pydantic alone took 0 and "1714521600" as Unix times: 1970-01-01 and 2024-05-01."""
    with pytest.raises(ValidationError) as refused:
        record(decided_on)
    assert [e["loc"][0] for e in refused.value.errors()] == ["decided_on"]


def test_a_date_as_yyyy_mm_dd_is_taken() -> None:
    assert record("2026-05-01").decided_on == dt.date(2026, 5, 1)


@pytest.mark.parametrize("expires_at", [1767225600, 1767225600.5, "1767225600"])
def test_a_moment_that_is_a_number_is_refused(expires_at: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        authorization(expires_at)
    assert [e["loc"][0] for e in refused.value.errors()] == ["expires_at"]


def test_a_moment_in_rfc_3339_is_taken() -> None:
    taken = authorization("2027-01-01T08:00:00+08:00").expires_at
    assert taken == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
