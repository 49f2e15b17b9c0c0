"""The registry's routes through the gateway: levels, masking, bad input, a dead backend."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from e2e.conftest import ADMIN_ID, ADMIN_SECRET, Api, gateway_settings, open_api
from support import samples
from support.backends import take_away
from support.processes import ServiceProcess, free_port

PERSON = {"kind": "natural_person", "name": "张三丰", "id_number": "11010519491231002X"}


def org_body(row: dict[str, str]) -> dict[str, str]:
    return {
        k: row[k]
        for k in (
            "kind",
            "name",
            "registration_authority",
            "org_category",
            "division_code",
            "org_code",
            "legal_representative",
        )
    }


async def test_a_sample_subject_is_registered_and_found_by_code_and_legacy_code(api: Api) -> None:
    writer = await api.client(["registry:write"])
    row = samples.subjects()[0]
    reply = await api.http.post(
        "/v1/subjects", json=org_body(row), headers={"Authorization": writer["Authorization"]}
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["code"] == row["code"]
    for code in (row["code"], row["org_code"], row["code"].lower()):
        found = await api.http.get(f"/v1/subjects/{code}")
        assert found.status_code == 200 and found.json()["code"] == row["code"]
        assert found.json()["level"] == "public"


async def test_natural_persons_are_masked_below_the_levels_that_see_them(api: Api) -> None:
    writer = await api.client(["registry:write"])
    assert (
        await api.http.post(
            "/v1/subjects", json=PERSON, headers={"Authorization": writer["Authorization"]}
        )
    ).status_code == 201
    public = (await api.http.get("/v1/subjects/11010519491231002X")).json()
    assert public["name"] == "张**" and public["code"] == "110105********002X"
    shared = await api.client(["credit:shared"])
    headers = {"Authorization": shared["Authorization"]}
    reply = await api.http.get("/v1/subjects/11010519491231002X", headers=headers)
    assert reply.status_code == 400 and reply.json()["code"] == "purpose_required"
    reply = await api.http.get(
        "/v1/subjects/11010519491231002X", params={"purpose": "行政审批核查"}, headers=headers
    )
    assert reply.json()["name"] == "张三丰" and reply.json()["code"] == "110105********002X"
    restricted = await api.client(["credit:restricted"])
    reply = await api.http.get(
        "/v1/subjects/11010519491231002X",
        params={"purpose": "信用核查"},
        headers={"Authorization": restricted["Authorization"]},
    )
    assert reply.json()["code"] == "11010519491231002X" and reply.json()["level"] == "restricted"
    reply = await api.http.get(
        "/v1/subjects/11010519491231002X",
        params={"level": "public"},
        headers={"Authorization": restricted["Authorization"]},
    )
    assert reply.json()["name"] == "张**"


async def test_a_subject_sees_itself_in_full(api: Api) -> None:
    writer = await api.client(["registry:write"])
    await api.http.post(
        "/v1/subjects", json=PERSON, headers={"Authorization": writer["Authorization"]}
    )
    me = await api.client(["subject:self"], subject_code="11010519491231002X")
    reply = await api.http.get(
        "/v1/subjects/11010519491231002X", headers={"Authorization": me["Authorization"]}
    )
    assert reply.json()["code"] == "11010519491231002X" and reply.json()["name"] == "张三丰"
    assert reply.json()["level"] == "restricted"
    # Asked for a lower level, it sees itself as that level shows it to others.
    public = await api.http.get(
        "/v1/subjects/11010519491231002X",
        params={"level": "public"},
        headers={"Authorization": me["Authorization"]},
    )
    assert public.status_code == 200, public.text
    assert public.json()["level"] == "public" and public.json()["name"] == "张**"
    assert public.json()["code"] == "110105********002X"
    # Any level of its own; past the token's (public) on another subject, none.
    other = await api.http.post(
        "/v1/subjects",
        json={**PERSON, "name": "李四", "id_number": "110101199003077774"},
        headers={"Authorization": writer["Authorization"]},
    )
    assert other.status_code == 201, other.text
    for level in ("shared", "restricted"):
        own = await api.http.get(
            "/v1/subjects/11010519491231002X",
            params={"level": level},
            headers={"Authorization": me["Authorization"]},
        )
        assert own.status_code == 200 and own.json()["level"] == level, own.text
        refused = await api.http.get(
            "/v1/subjects/110101199003077774",
            params={"level": level, "purpose": "核对"},
            headers={"Authorization": me["Authorization"]},
        )
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "level_not_allowed"


async def test_natural_persons_are_not_found_by_name_at_the_public_level(api: Api) -> None:
    writer = await api.client(["registry:write"])
    await api.http.post(
        "/v1/subjects", json=PERSON, headers={"Authorization": writer["Authorization"]}
    )
    assert (await api.http.get("/v1/subjects", params={"q": "张三丰"})).json()["items"] == []
    shared = await api.client(["credit:shared"])
    reply = await api.http.get(
        "/v1/subjects",
        params={"q": "张三丰", "purpose": "招投标审查"},
        headers={"Authorization": shared["Authorization"]},
    )
    assert [i["name"] for i in reply.json()["items"]] == ["张三丰"]


async def test_a_search_for_persons_alone_without_a_purpose_is_told_to_state_one(
    api: Api,
) -> None:
    """Above the public level such a search was answered with empty pages (the persons
    dropped after each page was cut), each with a next_page_token, as if there were
    nobody; at the public level persons are never searched: one empty page."""
    writer = await api.client(["registry:write"])
    await api.http.post(
        "/v1/subjects", json=PERSON, headers={"Authorization": writer["Authorization"]}
    )
    shared = {"Authorization": (await api.client(["credit:shared"]))["Authorization"]}
    asked = {"kind": "natural_person", "page_size": 1}
    reply = await api.http.get("/v1/subjects", params=asked, headers=shared)
    assert reply.status_code == 400, reply.text
    assert reply.json()["code"] == "purpose_required"
    assert [e["field"] for e in reply.json()["errors"]] == ["purpose"]
    public = await api.http.get("/v1/subjects", params=asked)
    assert public.status_code == 200, public.text
    assert public.json()["items"] == [] and public.json().get("next_page_token") is None
    stated = await api.http.get(
        "/v1/subjects", params={**asked, "q": "张三丰", "purpose": "招投标审查"}, headers=shared
    )
    assert [i["name"] for i in stated.json()["items"]] == ["张三丰"]


async def test_a_level_above_the_token_is_refused(api: Api) -> None:
    reply = await api.http.get("/v1/subjects/91310115MA8BRK2A83", params={"level": "shared"})
    assert reply.status_code == 403 and reply.json()["code"] == "level_not_allowed"


async def test_name_change_status_change_and_merge_through_the_gateway(api: Api) -> None:
    writer = {"Authorization": (await api.client(["registry:write"]))["Authorization"]}
    rows = [r for r in samples.subjects() if r["kind"] == "organization"][:2]
    for row in rows:
        assert (
            await api.http.post("/v1/subjects", json=org_body(row), headers=writer)
        ).status_code == 201
    survivor, duplicate = rows[0]["code"], rows[1]["code"]
    reply = await api.http.patch(
        f"/v1/subjects/{survivor}", json={"name": "更名后有限公司"}, headers=writer
    )
    assert reply.json()["former_names"][0]["name"] == rows[0]["name"]
    reply = await api.http.patch(
        f"/v1/subjects/{survivor}", json={"status": "revoked"}, headers=writer
    )
    assert reply.status_code == 422 and reply.json()["code"] == "reason_required"
    reply = await api.http.post(
        f"/v1/subjects/{duplicate}/merge",
        json={"into": survivor, "reason": "重复登记"},
        headers=writer,
    )
    assert reply.status_code == 200 and duplicate in reply.json()["merged_codes"]
    found = (await api.http.get(f"/v1/subjects/{duplicate}")).json()
    assert found["code"] == survivor and found["requested_code"] == duplicate


async def test_a_patch_with_null_removes_the_legal_representative_and_nothing_else(
    api: Api,
) -> None:
    """`null` in a PATCH (a JSON merge patch) removes; it was taken as "unchanged", so a
    legal representative once given could never be removed. A name or status cannot be."""
    writer = {"Authorization": (await api.client(["registry:write"]))["Authorization"]}
    row = [r for r in samples.subjects() if r["kind"] == "organization"][2]
    assert (
        await api.http.post("/v1/subjects", json=org_body(row), headers=writer)
    ).status_code == 201
    path = f"/v1/subjects/{row['code']}"
    reply = await api.http.patch(path, json={"legal_representative": "王五"}, headers=writer)
    assert reply.status_code == 200 and reply.json()["legal_representative"] == "王五"
    reply = await api.http.patch(path, json={"legal_representative": None}, headers=writer)
    assert reply.status_code == 200, reply.text
    assert not reply.json()["legal_representative"]
    reply = await api.http.patch(path, json={"name": None, "status": None}, headers=writer)
    assert reply.status_code == 422, reply.text
    assert [e["field"] for e in reply.json()["errors"]] == ["name", "status"]


async def test_batch_validation_answers_per_code_and_refuses_over_ten_thousand(api: Api) -> None:
    codes = [
        "91310115MA8BRK2A83",
        "91350100M0001TGQXM",
        "91310115MA8BRK2A84",
        "110108000000016",
        "11010519491231002X",
        "MA8BRK2A8",
        "hello",
    ]
    reply = await api.http.post(
        "/v1/codes/validate", json={"codes": codes * 1428 + ["X", "Y", "Z", "W"]}
    )
    assert reply.status_code == 200
    results = reply.json()["results"]
    assert len(results) == 10_000
    assert [r["valid"] for r in results[:7]] == [True, True, False, True, True, True, False]
    assert [r["kind"] for r in results[:6]] == [
        "uscc",
        "uscc",
        "uscc",
        "registration_number",
        "citizen_id",
        "org_code",
    ]
    assert "note" in results[1] and "check character" in results[2]["reason"]
    assert "registered" not in results[4]  # not for the public level
    reply = await api.http.post("/v1/codes/validate", json={"codes": ["X"] * 10_001})
    assert reply.status_code == 422 and reply.json()["errors"][0]["field"] == "codes"


async def test_bad_input_gets_a_problem_document_and_stores_nothing(api: Api) -> None:
    writer = {"Authorization": (await api.client(["registry:write"]))["Authorization"]}
    cases = [
        (b'{"kind": "organization", "name": ', 400, "malformed_json"),
        (b'{"kind": "organization", "name": 42, "division_code": []}', 422, "validation_failed"),
        (b'{"kind": "organization", "name": "a", "colour": "red"}', 422, "validation_failed"),
        (
            b'{"kind": "organization", "name": "a", "registration_authority": "9", "org_category": "1", "division_code": "310115", "org_code": "MA8BRK2A9"}',
            422,
            "invalid_code",
        ),
        (
            b'{"kind": "natural_person", "name": "a", "id_number": "110105194912310021"}',
            422,
            "invalid_code",
        ),
        (
            b'{"kind": "organization", "name": "a", "registration_authority": "Q", "org_category": "1", "division_code": "310115"}',
            422,
            "invalid_argument",
        ),
    ]
    for body, status, code in cases:
        reply = await api.http.post(
            "/v1/subjects", content=body, headers={**writer, "content-type": "application/json"}
        )
        assert reply.status_code == status, (body, reply.text)
        assert reply.headers["content-type"] == "application/problem+json"
        problem = reply.json()
        assert problem["code"] == code and problem["status"] == status and problem["errors"], body
        assert "Traceback" not in reply.text
    reply = await api.http.post(
        "/v1/subjects",
        content=b"x" * (api.gateway.settings.max_body_bytes + 1),
        headers={**writer, "content-type": "application/json"},
    )
    assert reply.status_code == 413 and reply.json()["code"] == "payload_too_large"
    assert (await api.http.get("/v1/subjects", params={"page_size": 500})).json()["items"] == []


async def test_unknown_codes_and_routes_are_404_problems(api: Api) -> None:
    reply = await api.http.get("/v1/subjects/91310115MA8BRK2A83")
    assert reply.status_code == 404 and reply.json()["code"] == "not_found"
    reply = await api.http.get("/v1/nowhere")
    assert reply.status_code == 404 and reply.headers["content-type"] == "application/problem+json"


async def test_every_response_carries_a_request_id(api: Api) -> None:
    reply = await api.http.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert reply.headers["x-request-id"] == "abc-123"
    assert len((await api.http.get("/healthz")).headers["x-request-id"]) == 32


async def test_a_dead_registry_is_a_503_within_the_deadline_and_the_gateway_stays_up(
    make_database_url: Callable[[str], str], tmp_path: Path
) -> None:
    settings = gateway_settings(
        make_database_url("gw"), f"127.0.0.1:{free_port()}", tmp_path, backend_deadline_seconds=1.0
    )
    api, close = await open_api(settings)
    try:
        started = time.monotonic()
        reply = await api.http.get("/v1/subjects/91310115MA8BRK2A83")
        elapsed = time.monotonic() - started
        assert reply.status_code == 503
        assert (
            reply.json()["code"] == "service_unavailable" and reply.json()["service"] == "registry"
        )
        assert elapsed < 3 * settings.backend_deadline_seconds
        assert (await api.http.get("/healthz")).status_code == 200
        ready = await api.http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["services"]["registry"] == "unavailable"
    finally:
        await close()  # type: ignore[misc]


async def test_the_openapi_document_describes_the_registry_routes(api: Api) -> None:
    spec = (await api.http.get("/openapi.json")).json()
    for path in (
        "/v1/subjects",
        "/v1/subjects/{code}",
        "/v1/subjects/{code}/merge",
        "/v1/codes/validate",
        "/oauth/token",
        "/v1/admin/clients",
        "/healthz",
        "/readyz",
    ):
        assert path in spec["paths"], path


async def test_identity_numbers_never_reach_a_log(
    api: Api, registry_process: ServiceProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    writer = {"Authorization": (await api.client(["registry:write"]))["Authorization"]}
    await api.http.post("/v1/subjects", json=PERSON, headers=writer)
    await api.http.post("/v1/subjects", json=PERSON, headers=writer)  # a conflict, logged or not
    await api.http.get("/v1/subjects/11010519491231002X")
    await api.http.get("/v1/subjects/11010519491231002X", headers=writer)
    await api.http.post("/v1/codes/validate", json={"codes": ["11010519491231002X"]})
    registry_process.stop()
    assert "11010519491231002X" not in registry_process.log()
    # The test's own HTTP client logs its URLs; everything the platform logged is checked.
    platform = [r.getMessage() for r in caplog.records if r.name != "httpx"]
    assert platform and not [m for m in platform if "11010519491231002X" in m]


async def test_the_gateways_own_database_away_is_a_503_naming_it_and_the_gateway_recovers(
    registry_process: ServiceProcess,
    make_database_url: Callable[[str], str],
    redis_url: str,
    tmp_path: Path,
) -> None:
    """PostgreSQL refusing connections (as five services' pools once made it) or the
    database gone: a token request, which reads the client, is answered 503
    service_unavailable naming the database, not 500; so is a creating POST with an
    Idempotency-Key, from the middleware (it checks the token first), which keeps no slot:
    once the database is back the same key creates, then replays. The process stays up,
    and /readyz names the database unavailable, then ready."""
    url = make_database_url("gw")
    settings = gateway_settings(
        url, registry_process.address, tmp_path, redis_url=redis_url, client_cache_seconds=0
    )
    api, close = await open_api(settings)
    form = {"grant_type": "client_credentials", "client_id": ADMIN_ID}
    body = {"name": "库外客户端", "department": "finance", "scopes": ["credit:shared"]}
    try:
        admin = {**await api.admin_headers(), "Idempotency-Key": "away-1"}
        await api.gateway.db.engine.dispose()  # no pooled connection outlives the change
        bring_back = take_away(url)
        try:
            for reply in (
                await api.http.post("/oauth/token", data={**form, "client_secret": ADMIN_SECRET}),
                await api.http.post("/v1/admin/clients", json=body, headers=admin),
            ):
                assert reply.status_code == 503, reply.text
                assert reply.json()["code"] == "service_unavailable"
                assert reply.json()["service"] == "database"
                assert reply.headers["retry-after"] == "1"
            assert (await api.http.get("/healthz")).status_code == 200
            away = await api.http.get("/readyz")
            assert away.status_code == 503 and away.json()["services"]["database"] == "unavailable"
        finally:
            bring_back()
        back = (await api.http.get("/readyz")).json()["services"]
        assert back["database"] == back["redis"] == back["registry"] == "ready"
        assert await api.token(ADMIN_ID, ADMIN_SECRET)
        created = await api.http.post("/v1/admin/clients", json=body, headers=admin)
        assert created.status_code == 201, created.text
        again = await api.http.post("/v1/admin/clients", json=body, headers=admin)
        assert again.headers.get("idempotent-replayed") == "true"
        assert again.json()["client_id"] == created.json()["client_id"]
    finally:
        await close()  # type: ignore[misc]


async def test_whether_a_person_is_registered_is_said_only_with_a_purpose_and_audited(
    api: Api,
) -> None:
    """A validation that says a person is registered is a query about that person: above
    the public level it needs a purpose and is audited; without one, `registered` is left
    out for identity numbers while the organisation codes of the batch are answered."""
    writer = {"Authorization": (await api.client(["registry:write"]))["Authorization"]}
    assert (await api.http.post("/v1/subjects", json=PERSON, headers=writer)).status_code == 201
    row = samples.subjects()[0]
    assert (
        await api.http.post("/v1/subjects", json=org_body(row), headers=writer)
    ).status_code == 201
    nobody = "110105198001010016"  # a valid number nobody is filed under
    batch = {"codes": [PERSON["id_number"], row["code"], nobody]}
    shared = await api.client(["credit:shared"], department="finance")
    headers = {"Authorization": shared["Authorization"]}
    auditor = {"Authorization": (await api.client(["audit:read"]))["Authorization"]}
    queries = f"/v1/subjects/{PERSON['id_number']}/queries"

    for params in ({}, {"level": "public", "purpose": "行政许可审查"}):
        reply = await api.http.post(
            "/v1/codes/validate", json=batch, params=params, headers=headers
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["level"] == (params.get("level") or "shared")
        person, organisation, other = reply.json()["results"]
        assert person["valid"] and person["kind"] == "citizen_id" and "registered" not in person
        assert "registered" not in other
        assert organisation["registered"] is True
    assert (await api.http.get(queries, headers=auditor)).json()["items"] == []

    reply = await api.http.post(
        "/v1/codes/validate", json=batch, params={"purpose": "行政许可审查"}, headers=headers
    )
    assert reply.json()["level"] == "shared"
    person, organisation, other = reply.json()["results"]
    assert person["registered"] is True and organisation["registered"] is True
    assert other["registered"] is False
    seen = (await api.http.get(queries, headers=auditor)).json()["items"]
    assert [(e["client_id"], e["level"], e["purpose"], e["what"]) for e in seen] == [
        (shared["client_id"], "shared", "行政许可审查", "code_validation")
    ]


async def test_a_listed_exception_is_registered_under_its_real_code_and_takes_records(
    records_api: Api,
) -> None:
    api = records_api
    writer = {"Authorization": (await api.client(["registry:write"]))["Authorization"]}
    body = {
        "kind": "organization",
        "name": "福州试点企业",
        "registration_authority": "9",
        "org_category": "1",
        "division_code": "350100",
        "org_code": "M0001TGQX",
    }
    reply = await api.http.post("/v1/subjects", json=body, headers=writer)
    assert reply.status_code == 201 and reply.json()["code"] == "91350100M0001TGQXM", reply.text
    found = await api.http.get("/v1/subjects/91350100M0001TGQXM")
    assert found.status_code == 200 and found.json()["code"] == "91350100M0001TGQXM"
    [checked] = (
        await api.http.post("/v1/codes/validate", json={"codes": ["91350100M0001TGQXM"]})
    ).json()["results"]
    assert checked["valid"] and checked["registered"] is True and checked["note"]
    source = {"Authorization": (await api.client(["records:write"]))["Authorization"]}
    record = {
        "subject_code": "91350100M0001TGQXM",
        "item_code": "admin_penalty",
        "source_ref": "FZ-2026-1",
        "decided_on": "2026-03-02",
        "fields": {
            "violation_type": "超范围经营",
            "violation_facts": "超范围经营",
            "legal_basis": "条例",
            "penalty_kinds": ["fine"],
            "penalty_content": "罚款",
            "fine_amount": 1.0,
            "severity": "general",
            "deciding_authority": "某局",
        },
    }
    submitted = await api.http.post("/v1/records", json=record, headers=source)
    assert submitted.status_code == 201, submitted.text
    records = await api.http.get("/v1/subjects/91350100M0001TGQXM/records")
    assert [r["source_ref"] for r in records.json()["items"]] == ["FZ-2026-1"]


async def test_a_conflicting_legacy_org_code_is_a_422_naming_it(api: Api) -> None:
    writer = {"Authorization": (await api.client(["registry:write"]))["Authorization"]}
    row = samples.subjects()[0]
    body = {**org_body(row), "legacy_codes": [{"type": "org_code", "value": "100000016"}]}
    reply = await api.http.post("/v1/subjects", json=body, headers=writer)
    assert reply.status_code == 422, reply.text
    assert reply.json()["code"] == "invalid_argument"
    assert [e["field"] for e in reply.json()["errors"]] == ["legacy_codes.0.value"]
    assert (await api.http.get(f"/v1/subjects/{row['code']}")).status_code == 404
    assert (await api.http.get("/v1/subjects/100000016")).status_code == 404


async def test_a_patch_repeating_the_status_changes_the_rest(api: Api) -> None:
    writer = {"Authorization": (await api.client(["registry:write"]))["Authorization"]}
    row = [r for r in samples.subjects() if r["kind"] == "organization"][3]
    assert (
        await api.http.post("/v1/subjects", json=org_body(row), headers=writer)
    ).status_code == 201
    reply = await api.http.patch(
        f"/v1/subjects/{row['code']}",
        json={"legal_representative": "王五", "status": "active", "reason": "sync"},
        headers=writer,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["legal_representative"] == "王五" and reply.json()["status"] == "active"
