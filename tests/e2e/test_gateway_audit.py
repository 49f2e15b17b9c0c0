"""The query audit log and subjects' authorizations through the gateway."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from credit_gateway.adapters.tables import query_audit
from e2e.conftest import Api, gateway_settings, open_api
from support.backends import take_away
from support.processes import ServiceProcess

ORG = {
    "kind": "organization",
    "registration_authority": "9",
    "org_category": "1",
    "division_code": "310115",
}


PERSON = {"kind": "natural_person", "name": "王五", "id_number": "11010519491231002X"}
PURPOSE = {"purpose": "行政许可审查"}


async def register(api: Api, name: str) -> str:
    registrar = {"Authorization": (await api.client(["registry:write"]))["Authorization"]}
    return str(
        (await api.http.post("/v1/subjects", json={**ORG, "name": name}, headers=registrar)).json()[
            "code"
        ]
    )


async def bearer(api: Api, scopes: list[str], **extra: str) -> dict[str, str]:
    return {"Authorization": (await api.client(scopes, **extra))["Authorization"]}  # type: ignore[arg-type]


async def test_every_read_is_audited_and_the_subject_sees_who_queried_it(lists_api: Api) -> None:
    api = lists_api
    code = await register(api, "被查询有限公司")
    other = await register(api, "旁观有限公司")
    agency = await api.client(["credit:shared"], department="finance")
    headers = {"Authorization": agency["Authorization"]}
    await api.http.get(
        f"/v1/subjects/{code}/records", params={"purpose": "政府采购资格审查"}, headers=headers
    )
    await api.http.get(f"/v1/subjects/{code}/lists", headers=headers)
    await api.http.post(
        "/v1/restrictions/check", json={"subject_codes": [code, other]}, headers=headers
    )
    me = await bearer(api, ["subject:self"], subject_code=code)
    seen = (await api.http.get(f"/v1/subjects/{code}/queries", headers=me)).json()["items"]
    assert {e["what"] for e in seen} == {"records", "lists", "restriction_check"}
    assert {e["client_id"] for e in seen} == {agency["client_id"]}
    assert {e["department"] for e in seen} == {"finance"}
    assert "政府采购资格审查" in {e["purpose"] for e in seen}
    assert all(e["request_id"] for e in seen)
    stranger = await bearer(api, ["subject:self"], subject_code=other)
    assert (await api.http.get(f"/v1/subjects/{code}/queries", headers=stranger)).status_code == 403
    auditor = await bearer(api, ["audit:read"])
    found = (
        await api.http.get("/v1/audit", params={"client_id": agency["client_id"]}, headers=auditor)
    ).json()
    assert len(found["items"]) == 4 and {e["subject_code"] for e in found["items"]} == {code, other}
    assert (await api.http.get("/v1/audit", headers=headers)).status_code == 403


async def test_who_queried_a_subject_includes_the_subjects_merged_into_it(
    lists_api: Api,
) -> None:
    """After a merge, the duplicate's queries were in no filtered view: its code answers
    with the survivor, whose key they are not filed under. Through a chain of merges too."""
    api = lists_api
    registrar = await bearer(api, ["registry:write"])
    people = [
        {**PERSON, "name": name, "id_number": number}
        for name, number in (
            ("王五", "11010519491231002X"),
            ("王六", "330106198810118286"),
            ("王七", "110105199001011486"),
        )
    ]
    for person in people:
        assert (await api.http.post("/v1/subjects", json=person, headers=registrar)).is_success
    first, second, last = (p["id_number"] for p in people)
    agency = await api.client(["credit:shared"], department="finance")
    read = await api.http.get(
        f"/v1/subjects/{first}/records",
        params=PURPOSE,
        headers={"Authorization": agency["Authorization"]},
    )
    assert read.status_code == 200, read.text
    for duplicate, survivor in ((first, second), (second, last)):
        merged = await api.http.post(
            f"/v1/subjects/{duplicate}/merge",
            json={"into": survivor, "reason": "重复登记"},
            headers=registrar,
        )
        assert merged.status_code == 200, merged.text
    auditor = await bearer(api, ["audit:read", "credit:restricted"])
    me = await bearer(api, ["subject:self"], subject_code=last)
    for headers in (auditor, me):
        seen = (await api.http.get(f"/v1/subjects/{last}/queries", headers=headers)).json()
        by_agency = [e["what"] for e in seen["items"] if e["client_id"] == agency["client_id"]]
        assert by_agency == ["records"], seen
    searched = await api.http.get(
        "/v1/audit",
        params={"subject_code": last, "client_id": agency["client_id"]},
        headers=auditor,
    )
    assert [e["what"] for e in searched.json()["items"]] == ["records"], searched.text


async def test_the_audit_log_is_append_only_and_a_forged_entry_breaks_the_chain(
    lists_api: Api,
) -> None:
    api = lists_api
    code = await register(api, "链条有限公司")
    await api.http.get(f"/v1/subjects/{code}/lists")
    await api.http.get(f"/v1/subjects/{code}/lists")
    await api.gateway.audit.flush()
    assert await api.gateway.audit.verify() == []
    async with api.gateway.db.engine.connect() as conn:
        try:
            await conn.execute(sa.update(query_audit).values(purpose="tampered"))
            await conn.commit()
            raise AssertionError("an audit entry was changed")
        except sa.exc.DBAPIError as error:
            assert "append-only" in str(error)
            await conn.rollback()
    async with api.gateway.db.transaction() as conn:
        await conn.execute(
            sa.insert(query_audit).values(
                at=dt.datetime.now(dt.UTC),
                client_id="forger",
                department="x",
                subject_key=code,
                level="public",
                purpose="",
                what="lists",
                request_id="r",
                authorization_id="",
                prev_hash="0" * 64,
                hash="f" * 64,
            )
        )
    problems = await api.gateway.audit.verify()
    assert problems and "does not follow" in problems[0]


async def test_a_clean_stop_writes_every_queued_entry(lists_api: Api) -> None:
    api = lists_api
    code = await register(api, "停机有限公司")
    for _ in range(5):
        await api.http.get(f"/v1/subjects/{code}/lists")
    await api.gateway.audit.stop()  # what the gateway does when it stops
    async with api.gateway.db.read() as conn:
        count = await conn.scalar(sa.select(sa.func.count()).select_from(query_audit))
    assert count == 5
    await api.gateway.audit.start()


async def test_an_authorization_opens_the_authorized_level_until_it_is_revoked(
    lists_api: Api,
) -> None:
    api = lists_api
    code = await register(api, "授权有限公司")
    other = await register(api, "未授权有限公司")
    bank = await api.client(["credit:authorized"], department="finance")
    bank_headers = {"Authorization": bank["Authorization"]}
    me = await bearer(api, ["subject:self"], subject_code=code)
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()
    grant = await api.http.post(
        f"/v1/subjects/{code}/authorizations",
        headers=me,
        json={"grantee_client_id": bank["client_id"], "expires_at": expires, "purpose": "贷款审批"},
    )
    assert grant.status_code == 201, grant.text
    authorization_id = grant.json()["authorization_id"]
    params = {"level": "authorized", "authorization_id": authorization_id}
    reply = await api.http.get(f"/v1/subjects/{code}/records", params=params, headers=bank_headers)
    assert reply.status_code == 200 and reply.json()["level"] == "authorized"
    elsewhere = await api.http.get(
        f"/v1/subjects/{other}/records", params=params, headers=bank_headers
    )
    assert elsewhere.status_code == 403 and elsewhere.json()["code"] == "authorization_invalid"
    someone = await bearer(api, ["credit:authorized"])
    assert (
        await api.http.get(f"/v1/subjects/{code}/records", params=params, headers=someone)
    ).status_code == 403
    revoked = await api.http.delete(
        f"/v1/subjects/{code}/authorizations/{authorization_id}", headers=me
    )
    assert revoked.status_code == 200 and not revoked.json()["active"]
    after = await api.http.get(f"/v1/subjects/{code}/records", params=params, headers=bank_headers)
    assert after.status_code == 403 and after.json()["code"] == "authorization_invalid"
    not_mine = await api.http.post(
        f"/v1/subjects/{other}/authorizations",
        headers=me,
        json={"grantee_client_id": bank["client_id"], "expires_at": expires, "purpose": "x1"},
    )
    assert not_mine.status_code == 403
    past = await api.http.post(
        f"/v1/subjects/{code}/authorizations",
        headers=me,
        json={
            "grantee_client_id": bank["client_id"],
            "expires_at": "2020-01-01T00:00:00+08:00",
            "purpose": "贷款审批",
        },
    )
    assert past.status_code == 422


async def test_what_a_client_must_not_do_is_refused_and_audited(lists_api: Api) -> None:
    api = lists_api
    code = await register(api, "越权测试有限公司")
    other = await register(api, "他人越权有限公司")
    shared = await api.client(["credit:shared"], department="finance")
    tax_writer = await bearer(api, ["records:write"], department="tax")
    me = await bearer(api, ["subject:self"], subject_code=code)
    attempts = [
        await api.http.get(
            f"/v1/subjects/{code}/records",
            params={"level": "restricted"},
            headers={"Authorization": shared["Authorization"]},
        ),
        await api.http.post(
            "/v1/records",
            headers=tax_writer,
            json={
                "subject_code": code,
                "item_code": "court_dishonest",
                "source_ref": "越权-1",
                "decided_on": "2026-11-20",
                "fields": {
                    "case_number": "x",
                    "court_name": "x",
                    "obligation": "x",
                    "performance": "unperformed",
                    "dishonest_conduct": "x",
                },
            },
        ),
        await api.http.get(f"/v1/subjects/{other}/queries", headers=me),
        await api.http.get(
            f"/v1/subjects/{code}/lists", headers={"Authorization": "Bearer forged.token.value"}
        ),
    ]
    await api.http.delete(
        f"/v1/admin/clients/{shared['client_id']}", headers=await api.admin_headers()
    )
    attempts.append(
        await api.http.get(
            f"/v1/subjects/{code}/lists", headers={"Authorization": shared["Authorization"]}
        )
    )
    assert [a.status_code for a in attempts] == [403, 403, 403, 401, 401]
    assert [a.json()["code"] for a in attempts] == [
        "level_not_allowed",
        "department_mismatch",
        "not_your_subject",
        "invalid_token",
        "invalid_token",
    ]
    await api.gateway.audit.flush()
    refused = [
        e.query.what
        for e in await api.gateway.audit.search(limit=100)
        if e.query.what.startswith("refused")
    ]
    for attempt in attempts:
        assert any(attempt.json()["code"] in what for what in refused), attempt.json()["code"]


async def test_reads_sent_as_posts_run_and_are_audited_each_time_under_one_idempotency_key(
    redis_api: Api,
) -> None:
    """A validation or a restriction check creates nothing: a repeat under the same
    Idempotency-Key is another query about the person, not a replay of the first."""
    api = redis_api
    registrar = await bearer(api, ["registry:write"])
    assert (await api.http.post("/v1/subjects", json=PERSON, headers=registrar)).status_code == 201
    agency = await bearer(api, ["credit:shared"])
    purpose = {"purpose": "行政许可审查"}
    for path, body, what in (
        ("/v1/codes/validate", {"codes": [PERSON["id_number"]]}, "code_validation"),
        ("/v1/restrictions/check", {"subject_codes": [PERSON["id_number"]]}, "restriction_check"),
    ):
        headers = {**agency, "Idempotency-Key": f"same-{what}"}
        for _ in range(3):
            reply = await api.http.post(path, json=body, params=purpose, headers=headers)
            assert reply.status_code == 200, reply.text
            assert "idempotent-replayed" not in reply.headers
        await api.gateway.audit.flush()
        audited = [e for e in await api.gateway.audit.search(limit=100) if e.query.what == what]
        assert len(audited) == 3 and {e.query.purpose for e in audited} == {purpose["purpose"]}


async def test_who_queried_a_code_is_refused_alike_for_any_code_without_the_scope(
    api: Api,
) -> None:
    """Refused before the registry is asked: whether an identity number is on file is not
    told by the refusal."""
    writer = await bearer(api, ["registry:write"])
    assert (await api.http.post("/v1/subjects", json=PERSON, headers=writer)).status_code == 201
    nobody = "110105198001010016"  # a valid number nobody is filed under
    for scopes in (["credit:restricted"], []):
        caller = await bearer(api, scopes)
        replies = [
            await api.http.get(f"/v1/subjects/{code}/queries", headers=caller)
            for code in (PERSON["id_number"], nobody)
        ]
        assert [(r.status_code, r.json()["code"]) for r in replies] == [(403, "scope_missing")] * 2
    anonymous = await api.http.get(f"/v1/subjects/{nobody}/queries")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "unauthenticated"
    # A subject's own client is refused alike for another's code and for a code on file
    # under no one, asking who queried it or granting in its name.
    itself = await bearer(api, ["subject:self"], subject_code=await register(api, "自查有限公司"))
    grant = {"grantee_client_id": "cl_x", "expires_at": "2099-01-01T00:00:00Z", "purpose": "核查"}
    for code in (PERSON["id_number"], nobody):
        asked = await api.http.get(f"/v1/subjects/{code}/queries", headers=itself)
        granted = await api.http.post(
            f"/v1/subjects/{code}/authorizations", json=grant, headers=itself
        )
        for reply in (asked, granted):
            assert (reply.status_code, reply.json()["code"]) == (403, "not_your_subject")


async def test_an_audit_page_resumes_before_the_last_entry_shown_whatever_was_written_since(
    lists_api: Api,
) -> None:
    api = lists_api
    code = await register(api, "翻页审计有限公司")
    agency = await bearer(api, ["credit:shared"], department="finance")
    for _ in range(3):
        assert (await api.http.get(f"/v1/subjects/{code}/lists", headers=agency)).is_success
    auditor = await bearer(api, ["audit:read"])
    me = await bearer(api, ["subject:self"], subject_code=code)
    for path, headers in (("/v1/audit", auditor), (f"/v1/subjects/{code}/queries", me)):
        params = {"subject_code": code} if path == "/v1/audit" else {}
        first = (
            await api.http.get(path, params={**params, "page_size": 2}, headers=headers)
        ).json()
        assert len(first["items"]) == 2 and first["next_page_token"]
        # Read again meanwhile: with an offset, the next page would begin with the second
        # entry of the first page again.
        assert (await api.http.get(f"/v1/subjects/{code}/lists", headers=agency)).is_success
        second = (
            await api.http.get(
                path,
                params={**params, "page_size": 2, "page_token": first["next_page_token"]},
                headers=headers,
            )
        ).json()
        shown = [e["seq"] for e in first["items"] + second["items"]]
        assert shown == sorted(shown, reverse=True) and len(set(shown)) == len(shown)
        assert second["items"][-1]["seq"] < first["items"][-1]["seq"]
    for token in ("czow", "czotMQ==", "eHl6"):  # "s:0", "s:-1", "xyz"
        refused = await api.http.get("/v1/audit", params={"page_token": token}, headers=auditor)
        assert refused.status_code == 422, refused.text


async def test_who_queried_a_natural_person_is_not_stored_by_caches(api: Api) -> None:
    writer = await bearer(api, ["registry:write"])
    assert (await api.http.post("/v1/subjects", json=PERSON, headers=writer)).status_code == 201
    person = await bearer(api, ["subject:self"], subject_code=PERSON["id_number"])
    path = f"/v1/subjects/{PERSON['id_number']}/queries"
    agency = await bearer(api, ["credit:shared"], department="finance")
    read = await api.http.get(path.removesuffix("/queries"), params=PURPOSE, headers=agency)
    assert read.status_code == 200, read.text
    await api.gateway.audit.flush()
    asked = await api.http.get(path, headers=person)
    assert asked.status_code == 200 and asked.headers["cache-control"] == "no-store"
    assert asked.json()["items"][0]["subject_code"] == PERSON["id_number"]
    # An auditor sees the number as its level shows it: masked, unless it may read the
    # restricted level.
    masked = PERSON["id_number"][:6] + "*" * 8 + PERSON["id_number"][-4:]
    for scopes, code, stored in (
        (["audit:read"], masked, True),
        (["audit:read", "credit:restricted"], PERSON["id_number"], False),
    ):
        seen = await api.http.get(path, headers=await bearer(api, scopes))
        assert seen.status_code == 200, seen.text
        assert {e["subject_code"] for e in seen.json()["items"]} == {code}
        assert (seen.headers.get("cache-control") != "no-store") == stored
    company = await register(api, "缓存无妨有限公司")
    itself = await bearer(api, ["subject:self"], subject_code=company)
    asked = await api.http.get(f"/v1/subjects/{company}/queries", headers=itself)
    assert asked.status_code == 200 and "cache-control" not in asked.headers


async def test_reads_are_refused_once_the_audit_entries_the_database_refuses_reach_the_limit(
    registry_process: ServiceProcess,
    make_database_url: Callable[[str], str],
    tmp_path: Path,
) -> None:
    """The gateway's database refusing writes: reads about a person are answered while
    their entries wait, up to `audit_max_backlog`; then refused (503 naming the database),
    never answered unaudited without bound. Once it is back the entries are written and
    reads are answered again."""
    url = make_database_url("gw")
    settings = gateway_settings(
        url, registry_process.address, tmp_path, audit_max_backlog=2, client_cache_seconds=600
    )
    api, close = await open_api(settings)
    try:
        registrar = await bearer(api, ["registry:write"])
        assert (await api.http.post("/v1/subjects", json=PERSON, headers=registrar)).is_success
        shared = await bearer(api, ["credit:shared"], department="finance")
        path = f"/v1/subjects/{PERSON['id_number']}"
        params = {"purpose": "行政许可审查"}
        assert (await api.http.get(path, params=params, headers=shared)).status_code == 200
        await api.gateway.audit.flush()
        await api.gateway.db.engine.dispose()  # no pooled connection outlives the change
        bring_back = take_away(url)
        try:
            answered = [
                (await api.http.get(path, params=params, headers=shared)).status_code
                for _ in range(2)
            ]
            refused = await api.http.get(path, params=params, headers=shared)
            assert answered == [200, 200] and api.gateway.audit.backlog == 2
            assert refused.status_code == 503, refused.text
            assert refused.json()["code"] == "service_unavailable"
            assert refused.json()["service"] == "database"
            assert PERSON["name"] not in refused.text
        finally:
            bring_back()
        await api.gateway.audit.flush()
        assert (await api.http.get(path, params=params, headers=shared)).status_code == 200
        await api.gateway.audit.flush()
        async with api.gateway.db.read() as conn:
            written = await conn.scalar(sa.select(sa.func.count()).select_from(query_audit))
        assert written == 4  # the read before, the two answered while away, the one after
    finally:
        await close()  # type: ignore[misc]
