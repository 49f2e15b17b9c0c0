"""What a subject's grant opens (its own subject, nothing else), refusals of grants in the
audit, Idempotency-Key replays that repeat no other request and keep no secret, and token
requests that neither hold the event loop nor go unbounded."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import threading
import time
import uuid
from typing import Any

import pytest

from credit_gateway.adapters import secrets
from e2e.conftest import ADMIN_ID, Api

ORG = {
    "kind": "organization",
    "registration_authority": "9",
    "org_category": "1",
    "division_code": "310115",
}
PERSON = {"kind": "natural_person", "name": "李四", "id_number": "11010519491231002X"}
PURPOSE = {"purpose": "招投标资格审查"}


async def bearer(api: Api, scopes: list[str], **extra: Any) -> dict[str, str]:
    return {"Authorization": (await api.client(scopes, **extra))["Authorization"]}


async def listed_person(api: Api) -> None:
    """李四, a natural person, on the court's list of dishonest debtors."""
    registrar = await bearer(api, ["registry:write"])
    assert (await api.http.post("/v1/subjects", json=PERSON, headers=registrar)).status_code == 201
    court = await bearer(api, ["lists:write"], department="court")
    listed = await api.http.post(
        "/v1/list-entries",
        headers=court,
        json={
            "subject_code": PERSON["id_number"],
            "list_type": "court_dishonest_debtor",
            "reason": "拒不履行生效法律文书确定的义务",
            "decision_ref": "(2026)沪0115执1234号",
        },
    )
    assert listed.status_code == 201, listed.text


async def grant(api: Api, grantee: str, purpose: str = "贷款审批") -> tuple[str, str, str]:
    """An organisation's grant of its authorized level to `grantee`: (its code, the grant
    id, its own client's bearer header)."""
    registrar = await bearer(api, ["registry:write"])
    code = (
        await api.http.post(
            "/v1/subjects", json={**ORG, "name": "授权方有限公司"}, headers=registrar
        )
    ).json()["code"]
    own = (await bearer(api, ["subject:self"], subject_code=code))["Authorization"]
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()
    reply = await api.http.post(
        f"/v1/subjects/{code}/authorizations",
        headers={"Authorization": own},
        json={"grantee_client_id": grantee, "expires_at": expires, "purpose": purpose},
    )
    assert reply.status_code == 201, reply.text
    return code, reply.json()["authorization_id"], own


async def test_a_grant_opens_no_listing_or_search_of_other_subjects(lists_api: Api) -> None:
    api = lists_api
    await listed_person(api)
    bank = await api.client(["credit:authorized"], department="finance")
    bank_headers = {"Authorization": bank["Authorization"]}
    code, authorization_id, _ = await grant(api, bank["client_id"])
    with_grant = {"authorization_id": authorization_id}

    listing = await api.http.get(
        "/v1/list-entries",
        params={"list_type": "court_dishonest_debtor", **with_grant},
        headers=bank_headers,
    )
    assert listing.status_code == 200, listing.text
    assert listing.json()["level"] == "public"
    assert [e["subject_name"] for e in listing.json()["items"]] == ["李*"]
    search = await api.http.get(
        "/v1/subjects", params={"q": "李四", **with_grant}, headers=bank_headers
    )
    assert search.status_code == 200 and search.json()["items"] == []
    asked = await api.http.get(
        "/v1/list-entries", params={"level": "authorized", **with_grant}, headers=bank_headers
    )
    assert asked.status_code == 403 and asked.json()["code"] == "level_not_allowed"
    own = await api.http.get(
        f"/v1/subjects/{code}/records",
        params={"level": "authorized", **with_grant},
        headers=bank_headers,
    )
    assert own.status_code == 200 and own.json()["level"] == "authorized"
    person = await api.http.get(
        f"/v1/subjects/{PERSON['id_number']}/lists", params=with_grant, headers=bank_headers
    )
    assert person.status_code == 403 and person.json()["code"] == "authorization_invalid"
    # A record id no record has is refused as another subject's would be: a grant does not
    # tell which records exist. Without one it is a 404.
    nowhere = f"/v1/records/{uuid.uuid4()}"
    unknown = await api.http.get(nowhere, params=with_grant, headers=bank_headers)
    assert unknown.status_code == 403 and unknown.json()["code"] == "authorization_invalid"
    assert (await api.http.get(nowhere, headers=bank_headers)).status_code == 404


async def test_an_authorized_scope_without_a_grant_reads_what_the_public_does(
    lists_api: Api,
) -> None:
    """credit:authorized opens the authorized level with a subject's grant, for that subject.
    Without one the token reads at the public level: the shared level is government use
    (credit:shared), and `?level=shared` with a grant is served for the grant's subject only
    (the grant checked, as for the authorized level)."""
    api = lists_api
    await listed_person(api)
    bank = await api.client(["credit:authorized"], department="finance")
    bank_headers = {"Authorization": bank["Authorization"]}
    code, authorization_id, _ = await grant(api, bank["client_id"])
    records = f"/v1/subjects/{code}/records"
    plain = await api.http.get(records, headers=bank_headers)
    assert plain.status_code == 200 and plain.json()["level"] == "public"
    person = await api.http.get(f"/v1/subjects/{PERSON['id_number']}/lists", headers=bank_headers)
    assert person.status_code == 200 and person.json()["level"] == "public"
    assert person.json()["entries"][0]["subject_name"] == "李*"
    asked = await api.http.get(records, params={"level": "shared"}, headers=bank_headers)
    assert asked.status_code == 403 and asked.json()["code"] == "level_not_allowed"

    def lifted(authorization: str) -> dict[str, str]:
        return {"level": "shared", "authorization_id": authorization, **PURPOSE}

    shared = await api.http.get(records, params=lifted(authorization_id), headers=bank_headers)
    assert shared.status_code == 200 and shared.json()["level"] == "shared"
    for path, authorization in (
        (f"/v1/subjects/{PERSON['id_number']}/lists", authorization_id),
        (records, str(uuid.uuid4())),
    ):
        refused = await api.http.get(path, params=lifted(authorization), headers=bank_headers)
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "authorization_invalid"


async def test_a_refusal_of_a_revoked_or_foreign_grant_is_audited(lists_api: Api) -> None:
    api = lists_api
    bank = await api.client(["credit:authorized"], department="finance")
    code, authorization_id, own = await grant(api, bank["client_id"])
    params = {"level": "authorized", "authorization_id": authorization_id}
    someone = await api.client(["credit:authorized"])
    foreign = await api.http.get(
        f"/v1/subjects/{code}/records",
        params=params,
        headers={"Authorization": someone["Authorization"]},
    )
    revoked = await api.http.delete(
        f"/v1/subjects/{code}/authorizations/{authorization_id}", headers={"Authorization": own}
    )
    assert revoked.status_code == 200
    after = await api.http.get(
        f"/v1/subjects/{code}/records",
        params=params,
        headers={"Authorization": bank["Authorization"]},
    )
    assert [foreign.status_code, after.status_code] == [403, 403]
    assert foreign.json()["code"] == after.json()["code"] == "authorization_invalid"
    await api.gateway.audit.flush()
    refusals = {
        e.query.client_id
        for e in await api.gateway.audit.search(limit=100)
        if e.query.what.startswith("refused 403 authorization_invalid")
    }
    assert refusals == {someone["client_id"], bank["client_id"]}


async def test_an_idempotency_key_replays_only_the_same_request_and_never_a_read(
    redis_api: Api,
) -> None:
    """A creating POST's key replays its first answer for the same path, query and body
    only; a read sent as a POST (a restriction check) is not replayed under a key: it runs,
    and is audited, every time (its answer differs with the purpose stated)."""
    api = redis_api
    await listed_person(api)
    agency = {**await bearer(api, ["credit:shared"]), "Idempotency-Key": "check-1"}
    body = {"subject_codes": [PERSON["id_number"]]}
    first = await api.http.post("/v1/restrictions/check", params=PURPOSE, json=body, headers=agency)
    assert first.status_code == 200 and first.json()["results"][0]["restricted"]
    blind = await api.http.post("/v1/restrictions/check", json=body, headers=agency)
    assert blind.status_code == 200 and blind.json()["results"][0]["error"] == "purpose_required"
    again = await api.http.post("/v1/restrictions/check", params=PURPOSE, json=body, headers=agency)
    assert again.status_code == 200 and "idempotent-replayed" not in again.headers
    registrar = {**await bearer(api, ["registry:write"]), "Idempotency-Key": "org-1"}
    org = {**ORG, "name": "重放检查有限公司"}
    created = await api.http.post("/v1/subjects", json=org, headers=registrar)
    assert created.status_code == 201, created.text
    other = await api.http.post("/v1/subjects", params={"x": "1"}, json=org, headers=registrar)
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    replay = await api.http.post("/v1/subjects", json=org, headers=registrar)
    assert replay.headers["idempotent-replayed"] == "true" and replay.json() == created.json()


async def test_an_idempotency_key_replays_only_to_a_token_with_the_first_ones_scopes(
    redis_api: Api,
) -> None:
    """A replay reaches no route, so no route's scope check: the same client with a token
    narrowed to other scopes was replayed a 201 of a route it may not call."""
    api = redis_api
    client = await api.client(["registry:write", "audit:read"])
    org = {**ORG, "name": "范围重放有限公司"}
    key = {"Idempotency-Key": "scoped-1"}
    full = {"Authorization": client["Authorization"], **key}
    created = await api.http.post("/v1/subjects", json=org, headers=full)
    assert created.status_code == 201, created.text
    narrow = await api.token(client["client_id"], client["client_secret"], scope="audit:read")
    refused = await api.http.post(
        "/v1/subjects", json=org, headers={"Authorization": f"Bearer {narrow}", **key}
    )
    assert refused.status_code == 403 and refused.json()["code"] == "scope_missing", refused.text
    assert "idempotent-replayed" not in refused.headers
    again = await api.http.post("/v1/subjects", json=org, headers=full)
    assert again.headers["idempotent-replayed"] == "true" and again.json() == created.json()


JSON = {"Content-Type": "application/json"}


def as_json(body: Any, **dumps: Any) -> bytes:
    return json.dumps(body, **dumps).encode()


async def test_an_idempotency_key_replays_the_same_json_written_otherwise(redis_api: Api) -> None:
    """The same JSON object, its keys in another order, spaced otherwise or its characters
    escaped, is the same body: its repeat replays the first answer, not a 409."""
    api = redis_api
    registrar = {**await bearer(api, ["registry:write"]), **JSON, "Idempotency-Key": "same-json-1"}
    org = {**ORG, "name": "改写重放有限公司"}
    created = await api.http.post("/v1/subjects", content=as_json(org), headers=registrar)
    assert created.status_code == 201, created.text
    reordered = dict(reversed(org.items()))
    for content, content_type in (
        (as_json(org, separators=(",", ":"), ensure_ascii=False), "application/json"),
        (as_json(reordered, indent=2), "application/json; charset=utf-8"),
        (b"\r\n " + as_json(reordered, separators=(" ,", " : ")) + b"\n", "Application/JSON"),
        (as_json(org, ensure_ascii=False), "application/merge-patch+json"),
    ):
        again = await api.http.post(
            "/v1/subjects", content=content, headers={**registrar, "Content-Type": content_type}
        )
        assert again.status_code == 201, (content, again.text)
        assert again.headers["idempotent-replayed"] == "true" and again.json() == created.json()


async def test_an_idempotency_key_with_other_json_values_is_a_conflict(redis_api: Api) -> None:
    """A changed value is another body however it is written, and so is 1.0 for 1 (other
    JSON texts, a float and an integer); the conflicts leave the first answer to replay."""
    api = redis_api
    registrar = {**await bearer(api, ["registry:write"]), **JSON, "Idempotency-Key": "other-json-1"}
    org = {**ORG, "name": "冲突检查有限公司"}
    created = await api.http.post("/v1/subjects", content=as_json(org), headers=registrar)
    assert created.status_code == 201, created.text
    changed = {**org, "division_code": "310116"}
    for body in (changed, dict(reversed(changed.items())), {**org, "extra": None}):
        other = await api.http.post("/v1/subjects", content=as_json(body), headers=registrar)
        assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    keyed = {**registrar, "Idempotency-Key": "other-json-2"}
    first = await api.http.post("/v1/subjects", content=as_json({**org, "x": 1}), headers=keyed)
    assert first.status_code < 500, first.text
    for body in ({**org, "x": 1.0}, {**org, "x": "1"}, {**org, "x": True}):
        other = await api.http.post("/v1/subjects", content=as_json(body), headers=keyed)
        assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    written_otherwise = as_json(dict(reversed(org.items())), indent=1)
    replay = await api.http.post("/v1/subjects", content=written_otherwise, headers=registrar)
    assert replay.headers["idempotent-replayed"] == "true" and replay.json() == created.json()


async def test_an_idempotency_key_compares_other_bodies_byte_for_byte(redis_api: Api) -> None:
    """A body that is not JSON (another content type, or JSON that does not parse) is
    compared as its bytes: a file with one byte changed, or the same JSON text sent as a
    file and spaced otherwise, is a 409; the very same bytes replay the first answer."""
    api = redis_api
    registrar = await bearer(api, ["registry:write"])
    csv = "name,registration_authority\n上传检查有限公司,9\n".encode()
    broken = b'{"kind": "organization", "name": '
    text = as_json(ORG)
    for key, content_type, content, changed in (
        ("bytes-csv-1", "text/csv", csv, csv.replace(b"9", b"8")),
        ("bytes-csv-2", "text/csv", csv, csv + b"\n"),
        ("bytes-json-text", "text/plain", text, as_json(ORG, separators=(",", ":"))),
        ("bytes-broken-json", "application/json", broken, broken + b" "),
    ):
        keyed = {**registrar, "Idempotency-Key": key, "Content-Type": content_type}
        first = await api.http.post("/v1/subjects", content=content, headers=keyed)
        assert 400 <= first.status_code < 500, first.text  # no route takes these: kept
        other = await api.http.post("/v1/subjects", content=changed, headers=keyed)
        assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
        again = await api.http.post("/v1/subjects", content=content, headers=keyed)
        assert again.headers["idempotent-replayed"] == "true", (key, again.text)
        assert again.status_code == first.status_code and again.json() == first.json()


async def test_an_idempotency_key_kept_as_a_hash_of_its_bytes_still_replays(
    redis_api: Api,
) -> None:
    """An answer kept before JSON bodies were compared as JSON, under a hash of the bytes
    (path, query, body) alone, is replayed to a repeat of the very same bytes; a body with
    a lone surrogate escaped (JSON Python reads, but cannot write as UTF-8) is compared too."""
    api = redis_api
    client = await api.client(["registry:write"])
    registrar = {
        "Authorization": client["Authorization"],
        **JSON,
        "Idempotency-Key": "kept-before-1",
    }
    org = {**ORG, "name": "旧指纹有限公司"}
    content = as_json(org)
    slot = f"idempotency:{client['client_id']}:{hashlib.sha256(b'kept-before-1').hexdigest()}"
    answer = {"code": "913101159ABCDEFG12", "name": org["name"]}
    assert api.gateway.redis is not None
    await api.gateway.redis.set(
        slot,
        json.dumps(
            {
                "state": "done",
                "digest": hashlib.sha256(b"/v1/subjects\0\0" + content).hexdigest(),
                "status": 201,
                "headers": [["content-type", "application/json"]],
                "body": json.dumps(answer, ensure_ascii=False),
            }
        ),
        ex=600,
    )
    replay = await api.http.post("/v1/subjects", content=content, headers=registrar)
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == answer
    lone = as_json({**org, "name": "\ud800"})
    keyed = {**registrar, "Idempotency-Key": "lone-surrogate-1"}
    first = await api.http.post("/v1/subjects", content=lone, headers=keyed)
    assert first.status_code == 422, first.text
    again = await api.http.post("/v1/subjects", content=lone, headers=keyed)
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()


async def kept_answers(api: Api, *owners: str) -> str:
    """Every answer kept in Redis for these clients' replays."""
    assert api.gateway.redis is not None
    slots = [
        key
        for owner in owners
        async for key in api.gateway.redis.scan_iter(match=f"idempotency:{owner}:*")
    ]
    return "".join([(await api.gateway.redis.get(slot) or b"").decode() for slot in slots])


async def test_a_replay_shows_no_client_secret_and_keeps_no_identity_number(
    redis_api: Api,
) -> None:
    api = redis_api
    admin = {**await api.admin_headers(), "Idempotency-Key": "client-1"}
    body = {"name": "重放客户端", "department": "finance", "scopes": ["credit:shared"]}
    created = await api.http.post("/v1/admin/clients", json=body, headers=admin)
    assert created.status_code == 201 and created.json()["client_secret"]
    again = await api.http.post("/v1/admin/clients", json=body, headers=admin)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["client_id"] == created.json()["client_id"]
    assert again.json()["client_secret"] is None
    writer = await api.client(["registry:write"])
    registrar = {"Authorization": writer["Authorization"], "Idempotency-Key": "person-1"}
    person = await api.http.post("/v1/subjects", json=PERSON, headers=registrar)
    assert person.status_code == 201 and person.json()["code"] == PERSON["id_number"]
    replay = await api.http.post("/v1/subjects", json=PERSON, headers=registrar)
    assert replay.status_code == 409 and replay.json()["code"] == "idempotency_answer_not_kept"
    assert replay.json()["first_status"] == 201
    kept = await kept_answers(api, ADMIN_ID, writer["client_id"])
    assert created.json()["client_secret"] not in kept and PERSON["id_number"] not in kept


async def test_token_attempts_for_a_client_id_are_bounded(redis_api: Api) -> None:
    api = redis_api
    target = await api.client(["credit:shared"])
    form = {
        "grant_type": "client_credentials",
        "client_id": target["client_id"],
        "client_secret": "cs_guess",
    }
    replies = await asyncio.gather(*(api.http.post("/oauth/token", data=form) for _ in range(30)))
    statuses = [r.status_code for r in replies]
    assert set(statuses) == {401, 429} and statuses.count(401) <= 21, statuses
    refused = next(r for r in replies if r.status_code == 429)
    assert refused.json()["code"] == "rate_limited" and int(refused.headers["retry-after"]) >= 1
    other = await api.http.post(
        "/oauth/token", data={**form, "client_id": ADMIN_ID, "client_secret": "x"}
    )
    assert other.status_code == 401


async def test_token_requests_hash_secrets_off_the_event_loop(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each hash (some 40 ms) runs on another thread, and the event loop goes on meanwhile
    (a hash that held the GIL would stop it on any thread). Six clients that have not
    authenticated yet: a secret a replica has verified before is not hashed again."""
    admin = await api.admin_headers()
    made = [
        (
            await api.http.post(
                "/v1/admin/clients",
                headers=admin,
                json={"name": f"散列{i}", "department": "tax", "scopes": ["credit:shared"]},
            )
        ).json()
        for i in range(6)
    ]
    hashes: list[tuple[float, float, int]] = []
    check = secrets.verify_secret

    def timed(secret: str, stored: str) -> bool:
        started = time.perf_counter()
        try:
            return check(secret, stored)
        finally:
            hashes.append((started, time.perf_counter(), threading.get_ident()))

    monkeypatch.setattr(secrets, "verify_secret", timed)
    ticks: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        while not done.is_set():
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.001)

    ticker = asyncio.create_task(tick())
    forms = [
        {
            "grant_type": "client_credentials",
            "client_id": m["client_id"],
            "client_secret": m["client_secret"],
        }
        for m in made
    ]
    replies = await asyncio.gather(*(api.http.post("/oauth/token", data=f) for f in forms))
    done.set()
    await ticker
    assert [r.status_code for r in replies] == [200] * 6
    assert len(hashes) == 6 and threading.get_ident() not in {t for _, _, t in hashes}
    meanwhile = [t for t in ticks if any(start < t < end for start, end, _ in hashes)]
    assert len(meanwhile) >= len(hashes), (len(meanwhile), hashes)
