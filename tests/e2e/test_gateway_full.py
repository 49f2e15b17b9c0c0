"""The gateway in full: the credit report, rate limits, idempotency and metrics."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from credit_gateway.entrypoints.app import create_app
from e2e.conftest import Api, gateway_settings, open_api
from support.processes import ServiceProcess, free_port, start_objections

ORG = {
    "kind": "organization",
    "registration_authority": "9",
    "org_category": "1",
    "division_code": "310115",
}


@pytest.fixture
async def stack(
    registry_process: ServiceProcess,
    records_process: ServiceProcess,
    lists_process: ServiceProcess,
    objections_env: dict[str, str],
    make_database_url: Callable[[str], str],
    redis_url: str,
    tmp_path: Path,
) -> AsyncIterator[tuple[Callable[..., Any], ServiceProcess]]:
    objections = start_objections(
        {**objections_env, "LISTS_ADDRESS": lists_process.address}, tmp_path, free_port()
    )
    closers: list[Any] = []

    async def api(**extra: Any) -> Api:
        settings = gateway_settings(
            make_database_url("gw"),
            registry_process.address,
            tmp_path,
            records_address=records_process.address,
            lists_address=lists_process.address,
            objections_address=objections.address,
            redis_url=redis_url,
            **extra,
        )
        client, close = await open_api(settings)
        closers.append(close)
        return client

    yield api, objections
    for close in closers:
        await close()
    objections.stop()


async def bearer(
    api: Api, scopes: list[str], department: str = "development_reform", **extra: Any
) -> dict[str, str]:
    return {
        "Authorization": (await api.client(scopes, department=department, **extra))["Authorization"]
    }


async def test_the_report_composes_every_section_and_a_missing_service_is_named(stack: Any) -> None:
    make_api, objections = stack
    api = await make_api()
    registrar = await bearer(api, ["registry:write"])
    code = (
        await api.http.post(
            "/v1/subjects", json={**ORG, "name": "报告测试有限公司"}, headers=registrar
        )
    ).json()["code"]
    market = await bearer(api, ["records:write"], "market_regulation")
    decided = (dt.date.today() - dt.timedelta(days=3)).isoformat()
    await api.http.post(
        "/v1/records",
        headers=market,
        json={
            "subject_code": code,
            "item_code": "admin_penalty",
            "source_ref": "报告-1",
            "decided_on": decided,
            "fields": {
                "violation_type": "v",
                "violation_facts": "f",
                "legal_basis": "b",
                "penalty_kinds": ["warning"],
                "penalty_content": "警告",
                "severity": "general",
                "deciding_authority": "a",
            },
        },
    )
    court = await bearer(api, ["lists:write"], "court")
    await api.http.post(
        "/v1/list-entries",
        headers=court,
        json={
            "subject_code": code,
            "list_type": "court_dishonest_debtor",
            "reason": "拒不履行",
            "decision_ref": "执1号",
        },
    )
    shared = await bearer(api, ["credit:shared"], "finance")
    reply = await api.http.get(f"/v1/subjects/{code}/report", headers=shared)
    assert reply.status_code == 200, reply.text
    report = reply.json()
    assert report["level"] == "shared" and report["subject"]["code"] == code
    assert [r["source_ref"] for r in report["records_by_category"]["行政管理信息"]] == ["报告-1"]
    assert report["lists"]["restricted"] and report["open_objections"] == []
    objections.stop()
    down = await api.http.get(f"/v1/subjects/{code}/report", headers=shared)
    assert down.status_code == 503 and down.json()["service"] == "objections"
    assert (await api.http.get(f"/v1/subjects/{code}/lists", headers=shared)).status_code == 200


async def test_the_report_holds_every_record_of_a_subject_with_more_than_one_page(
    stack: Any,
) -> None:
    """501 records: one more than the records service's largest page."""
    make_api, _ = stack
    api = await make_api()
    registrar = await bearer(api, ["registry:write"])
    code = (
        await api.http.post(
            "/v1/subjects", json={**ORG, "name": "多页报告有限公司"}, headers=registrar
        )
    ).json()["code"]
    decided = (dt.date.today() - dt.timedelta(days=3)).isoformat()
    fields = {
        "violation_type": "v",
        "violation_facts": "f",
        "legal_basis": "b",
        "penalty_kinds": ["warning"],
        "penalty_content": "警告",
        "severity": "general",
        "deciding_authority": "a",
    }
    rows = [
        json.dumps(
            {
                "subject_code": code,
                "source_ref": f"多页-{i}",
                "decided_on": decided,
                "fields": fields,
            },
            ensure_ascii=False,
        )
        for i in range(501)
    ]
    market = await bearer(api, ["records:write"], "market_regulation")
    loaded = await api.http.post(
        "/v1/records/bulk",
        params={"item_code": "admin_penalty"},
        content="\n".join(rows).encode(),
        headers={**market, "content-type": "application/x-ndjson"},
    )
    assert loaded.status_code == 200 and loaded.json()["accepted"] == 501, loaded.text
    shared = await bearer(api, ["credit:shared"], "finance")
    reply = await api.http.get(f"/v1/subjects/{code}/report", headers=shared)
    assert reply.status_code == 200, reply.text
    shown = [r["source_ref"] for r in reply.json()["records_by_category"]["行政管理信息"]]
    assert sorted(shown) == sorted(f"多页-{i}" for i in range(501))


async def test_a_client_past_its_rate_limit_gets_429_with_retry_after(stack: Any) -> None:
    make_api, _ = stack
    api = await make_api(anonymous_rate_limit_per_second=0.2, anonymous_rate_limit_burst=3)
    replies = [await api.http.post("/v1/codes/validate", json={"codes": ["X"]}) for _ in range(4)]
    assert [r.status_code for r in replies] == [200, 200, 200, 429]
    assert (
        replies[0].headers["ratelimit-limit"] == "3"
        and replies[2].headers["ratelimit-remaining"] == "0"
    )
    refused = replies[3]
    assert refused.json()["code"] == "rate_limited" and int(refused.headers["retry-after"]) >= 1
    generous = await bearer(api, ["credit:shared"], rate_limit={"per_second": 100, "burst": 50})
    assert all(
        [
            (
                await api.http.post("/v1/codes/validate", json={"codes": ["X"]}, headers=generous)
            ).status_code
            == 200
            for _ in range(10)
        ]
    )


async def test_tokens_that_are_no_tokens_count_against_their_address(stack: Any) -> None:
    """A request with a garbage Bearer token was refused before any bucket counted it:
    unlimited requests from one address, each refusal an audit entry."""
    make_api, _ = stack
    api = await make_api(anonymous_rate_limit_per_second=0.2, anonymous_rate_limit_burst=3)
    address = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
    transport = httpx.ASGITransport(app=create_app(api.gateway), client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        replies = [
            await http.post(
                "/v1/codes/validate", json={"codes": ["X"]}, headers={"Authorization": header}
            )
            for header in ("Bearer not-a-token", "Bearer not-a-token", "Basic eDp5")
        ]
        assert [r.status_code for r in replies] == [401, 401, 401]
        # The address's burst of 3 is used up by them.
        refused = await http.post("/v1/codes/validate", json={"codes": ["X"]})
    assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"


async def test_redis_out_of_reach_is_a_503_naming_it_not_an_error(
    registry_process: ServiceProcess, make_database_url: Callable[[str], str], tmp_path: Path
) -> None:
    """Redis holds the rate limits: when no connection to it can be had (down, or every
    connection busy past the pool's wait), a request is told to come back, like a backend
    that does not answer; public answers are then not served from the cache."""
    settings = gateway_settings(
        make_database_url("gw"),
        registry_process.address,
        tmp_path,
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
    )
    api, close = await open_api(settings)
    try:
        reply = await api.http.post("/v1/codes/validate", json={"codes": ["X"]})
        assert reply.status_code == 503, reply.text
        assert reply.json()["service"] == "redis" and reply.headers["retry-after"] == "1"
        assert api.gateway.cache is not None and not api.gateway.cache.following
        ready = await api.http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["services"]["redis"] == "unavailable"
    finally:
        await close()  # type: ignore[misc]


async def test_an_idempotency_key_replays_the_first_answer_and_refuses_another_body(
    stack: Any,
) -> None:
    make_api, _ = stack
    api = await make_api()
    registrar = {**(await bearer(api, ["registry:write"])), "Idempotency-Key": "reg-0001"}
    body = {**ORG, "name": "幂等测试有限公司"}
    first = await api.http.post("/v1/subjects", json=body, headers=registrar)
    again = await api.http.post("/v1/subjects", json=body, headers=registrar)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    other = await api.http.post("/v1/subjects", json={**body, "name": "另一个"}, headers=registrar)
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    found = (await api.http.get("/v1/subjects", params={"q": "幂等测试"})).json()["items"]
    assert len(found) == 1


async def test_metrics_count_requests_by_route_and_backend_errors(stack: Any) -> None:
    make_api, _ = stack
    api = await make_api()
    await api.http.get("/v1/subjects/91310115MA8BRK2A83")
    text = (await api.http.get("/metrics")).text
    assert (
        'credit_gateway_requests_total{method="GET",route="/v1/subjects/{code}",status="404"}'
        in text
    )
    assert "credit_gateway_request_seconds_bucket" in text
