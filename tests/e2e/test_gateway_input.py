"""Input no service could take (found on PostgreSQL, where each one used to be a 500): the
gateway refuses it with a clear 4xx before it reaches a service."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from credit_gateway.entrypoints.app import create_app
from e2e.conftest import Api, gateway_settings, open_api
from e2e.test_gateway_bulk import PENALTY_FIELDS as PENALTY
from support.processes import ServiceProcess

LIMIT = 4096
PERSON = {"kind": "natural_person", "name": "赵六", "id_number": "11010519491231002X"}


@pytest.fixture
async def limited_api(
    registry_process: ServiceProcess,
    make_database_url: Callable[[str], str],
    redis_url: str,
    tmp_path: Path,
) -> AsyncIterator[Api]:
    """The gateway with Redis (Idempotency-Key replays) and a body limit of LIMIT bytes."""
    settings = gateway_settings(
        make_database_url("gw"),
        registry_process.address,
        tmp_path,
        redis_url=redis_url,
        max_body_bytes=LIMIT,
    )
    client, close = await open_api(settings)
    yield client
    await close()  # type: ignore[misc]


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
    assert search.json()["code"] == "invalid_page_token"
    for raw in ("-1", str(2**63)):
        token = base64.urlsafe_b64encode(raw.encode()).decode()
        audit = await api.http.get("/v1/audit", params={"page_token": token}, headers=headers)
        assert audit.status_code == 422 and "page_token" in audit.text
        # One stable code for it whichever route or service reads the token (the audit
        # log's answered validation_failed, the services' invalid_argument).
        assert audit.json()["code"] == "invalid_page_token"
        assert [e["field"] for e in audit.json()["errors"]] == ["page_token"]


async def test_basic_credentials_that_are_not_ascii_are_refused_as_credentials(api: Api) -> None:
    reply = await api.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": b"Basic " + "客户端:密钥".encode()},
    )
    assert reply.status_code == 401 and reply.json()["error"] == "invalid_client"


async def test_a_body_over_the_limit_without_a_length_is_refused_413_with_its_request_id(
    limited_api: Api,
) -> None:
    """Sent in chunks (no Content-Length), the body is found too large only while it is
    read: by the route, or before it by the Idempotency-Key middleware."""
    api = limited_api
    caller = {"Authorization": (await api.client(["registry:write"]))["Authorization"]}

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"kind": "organization", "name": "'
        for _ in range(LIMIT // 1024 + 1):
            yield "有限公司".encode() * 86  # 1,032 bytes
        yield b'"}'

    for extra in ({}, {"Idempotency-Key": "too-large-1"}):
        headers = {**caller, **extra, "content-type": "application/json", "X-Request-Id": "big-1"}
        reply = await api.http.post("/v1/subjects", content=chunks(), headers=headers)
        assert "content-length" not in reply.request.headers
        assert reply.status_code == 413 and reply.json()["code"] == "payload_too_large", extra
        assert reply.headers["x-request-id"] == "big-1"


async def test_redis_failing_under_an_idempotency_key_is_503_naming_redis(
    limited_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the route, nothing has run: a 503 the caller may retry. After it, the answer
    is sent already, and stands."""
    api = limited_api
    admin = {**await api.admin_headers(), "X-Request-Id": "r-1"}
    body = {"name": "无缓存客户端", "department": "finance", "scopes": ["credit:shared"]}
    assert api.gateway.redis is not None
    claim = api.gateway.redis.set
    sets = 0

    async def away_after_the_claim(*args: Any, **kwargs: Any) -> Any:
        nonlocal sets
        sets += 1
        if sets > 1:
            raise RedisConnectionError("Connection refused")
        return await claim(*args, **kwargs)

    monkeypatch.setattr(api.gateway.redis, "set", away_after_the_claim)
    headers = {**admin, "Idempotency-Key": "redis-away-1"}
    created = await api.http.post("/v1/admin/clients", json=body, headers=headers)
    assert created.status_code == 201 and sets == 2

    async def away(*_: object, **__: object) -> None:
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(api.gateway.redis, "set", away)
    headers = {**admin, "Idempotency-Key": "redis-away-2"}
    reply = await api.http.post("/v1/admin/clients", json=body, headers=headers)
    assert reply.status_code == 503, reply.text
    assert reply.json()["code"] == "service_unavailable" and reply.json()["service"] == "redis"
    assert reply.headers["retry-after"] == "1" and reply.headers["x-request-id"] == "r-1"


async def test_a_fault_is_answered_500_with_its_request_id(
    limited_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Starlette answers a fault outside every middleware: the gateway answers it first."""
    api = limited_api

    async def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a fault")

    monkeypatch.setattr(api.gateway.registry, "validate", broken)
    transport = httpx.ASGITransport(app=create_app(api.gateway), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        reply = await http.post(
            "/v1/codes/validate", json={"codes": ["x"]}, headers={"X-Request-Id": "fault-1"}
        )
    assert reply.status_code == 500 and reply.json()["code"] == "internal_error"
    assert reply.headers["x-request-id"] == "fault-1" and "a fault" not in reply.text


async def test_a_request_id_of_visible_ascii_is_echoed_and_others_are_replaced(
    api: Api,
) -> None:
    """API.md: every response carries X-Request-Id, echoed if sent. A braced GUID or a
    path-like id was replaced; a space, a control or non-ASCII character, or more than the
    audit log's 128 characters still is."""
    for sent in ("{3f2504e0-4f89-11d3-9a0c-0305e82c3301}", "abc/123", "r" * 128):
        reply = await api.http.get("/healthz", headers={"X-Request-Id": sent})
        assert reply.headers["x-request-id"] == sent
    for refused in (b"a b", b"r" * 129, "é1".encode("latin-1"), b"a\tb"):
        reply = await api.http.get("/healthz", headers={"X-Request-Id": refused})
        assert re.fullmatch(r"[0-9a-f]{32}", reply.headers["x-request-id"]), refused


async def test_a_purpose_or_grant_missing_or_of_the_wrong_length_is_a_400_naming_it(
    api: Api,
) -> None:
    writer = {"Authorization": (await api.client(["registry:write"]))["Authorization"]}
    assert (await api.http.post("/v1/subjects", json=PERSON, headers=writer)).status_code == 201
    reader = {"Authorization": (await api.client(["credit:shared"]))["Authorization"]}
    path = f"/v1/subjects/{PERSON['id_number']}"
    for params in ({}, {"purpose": "查"}, {"purpose": " 查 "}, {"purpose": "查" * 201}):
        reply = await api.http.get(path, params=params, headers=reader)
        assert reply.status_code == 400 and reply.json()["code"] == "purpose_required", params
        assert [e["field"] for e in reply.json()["errors"]] == ["purpose"]
    fine = await api.http.get(path, params={"purpose": "查" * 200}, headers=reader)
    assert fine.status_code == 200, fine.text
    bank = {"Authorization": (await api.client(["credit:authorized"]))["Authorization"]}
    reply = await api.http.get(
        path, params={"level": "authorized", "purpose": "信用核查"}, headers=bank
    )
    assert reply.status_code == 400 and reply.json()["code"] == "authorization_required"
    assert [e["field"] for e in reply.json()["errors"]] == ["authorization_id"]


async def test_a_client_of_an_unknown_department_or_scope_is_told_the_known_ones(
    api: Api,
) -> None:
    """The departments and scopes a client may have are fixed lists (DOMAIN.md, API.md):
    the refusal names them, so that an operator need not look them up."""
    body = {"name": "信用中心", "department": "credit_center", "scopes": ["credit:read"]}
    reply = await api.http.post("/v1/admin/clients", json=body, headers=await api.admin_headers())
    assert reply.status_code == 422, reply.text
    said = {e["field"]: e["message"] for e in reply.json()["errors"]}
    assert said["department"].startswith("unknown department 'credit_center': one of ")
    assert "market_regulation" in said["department"]
    assert said["scopes"].startswith("unknown scopes: credit:read; known: ")
    assert "credit:shared" in said["scopes"]
