"""Input no service could take (found on PostgreSQL, where each one used to be a 500): the
gateway refuses it with a clear 4xx before it reaches a service."""

from __future__ import annotations

import base64
import json
from typing import Any

from e2e.conftest import Api
from e2e.test_gateway_bulk import PENALTY_FIELDS as PENALTY


def _nested(depth: int) -> Any:
    value: Any = "底"
    for _ in range(depth):
        value = {"下": value}
    return value


async def _post_json(api: Api, path: str, body: object, headers: dict[str, str]) -> Any:
    """Sent as Python writes JSON, NaN and lone surrogates (escaped) included."""
    return await api.http.post(
        path, content=json.dumps(body), headers={**headers, "content-type": "application/json"}
    )


async def test_fields_no_service_could_store_are_refused(api: Api) -> None:
    writer = await api.client(["records:write"])
    headers = {"Authorization": writer["Authorization"]}

    def record(**fields: Any) -> dict[str, Any]:
        return {
            "subject_code": "91310115MA1K4CWU0D",
            "item_code": "admin_penalty",
            "source_ref": "罚〔2026〕1号",
            "decided_on": "2026-11-02",
            "fields": {**PENALTY, **fields},
        }

    cases = [
        ("NaN", record(fine_amount=float("nan"))),
        ("NaN", record(fine_amount=float("inf"))),
        ("2^53", record(fine_amount=10**400)),
        ("surrogates", record(violation_facts="未取得\ud800执照")),
        ("surrogates", {**record(), "fields": {**PENALTY, "坏\udfff": 1}}),
        ("nest", record(extra=_nested(40))),
    ]
    for expected, body in cases:
        reply = await _post_json(api, "/v1/records", body, headers)
        assert reply.status_code == 422, (expected, reply.text)
        assert expected in reply.text, reply.text
    fine = await _post_json(api, "/v1/records", record(extra=_nested(20)), headers)
    assert fine.status_code != 422 or "nest" not in fine.text


async def test_a_batch_with_a_lone_surrogate_is_refused(api: Api) -> None:
    codes = ["91310115MA1K4CWU0D", "9131\ud8000115MA1K4CWU0"]
    reply = await _post_json(api, "/v1/codes/validate", {"codes": codes}, {})
    assert reply.status_code == 422 and "surrogates" in reply.text
    fine = await _post_json(api, "/v1/codes/validate", {"codes": codes[:1]}, {})
    assert fine.status_code == 200


async def test_moments_outside_the_years_one_to_9999_in_utc_are_refused(api: Api) -> None:
    reader = await api.client(["credit:restricted", "audit:read", "lists:write"])
    headers = {"Authorization": reader["Authorization"]}
    early, late = "0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-08:00"
    for moment in (early, late):
        as_of = await api.http.get(
            "/v1/subjects/91310115MA1K4CWU0D/records", params={"as_of": moment}, headers=headers
        )
        audit = await api.http.get("/v1/audit", params={"from": moment}, headers=headers)
        entry = await _post_json(
            api,
            "/v1/list-entries",
            {
                "subject_code": "91310115MA1K4CWU0D",
                "list_type": "serious_dishonest",
                "reason": "测试",
                "decision_ref": "决〔2026〕1号",
                "valid_until": moment,
            },
            headers,
        )
        for reply in (as_of, audit, entry):
            assert reply.status_code == 422 and "years 1-9999" in reply.text, reply.text


async def test_page_tokens_past_any_offset_issued_are_refused(api: Api) -> None:
    reader = await api.client(["credit:shared", "audit:read"])
    headers = {"Authorization": reader["Authorization"]}
    huge = base64.urlsafe_b64encode(f"o:{2**63}".encode()).decode()
    search = await api.http.get(
        "/v1/subjects", params={"q": "测试", "page_token": huge}, headers=headers
    )
    assert search.status_code == 422 and "page_token" in search.text
    for raw in ("-1", str(2**63)):
        token = base64.urlsafe_b64encode(raw.encode()).decode()
        audit = await api.http.get("/v1/audit", params={"page_token": token}, headers=headers)
        assert audit.status_code == 422 and "page_token" in audit.text


async def test_basic_credentials_that_are_not_ascii_are_refused_as_credentials(api: Api) -> None:
    reply = await api.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": b"Basic " + "客户端:密钥".encode()},
    )
    assert reply.status_code == 401 and reply.json()["error"] == "invalid_client"
