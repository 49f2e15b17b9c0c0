"""Authentication and scopes at the gateway: every bad token is refused and changes nothing."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from e2e.conftest import ADMIN_ID, ADMIN_SECRET, Api, gateway_settings, open_api
from support.processes import ServiceProcess

ORG = {
    "kind": "organization",
    "name": "测试科技有限公司",
    "registration_authority": "9",
    "org_category": "1",
    "division_code": "310115",
}


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(api: Api, client_id: str, **overrides: object) -> dict[str, object]:
    now = dt.datetime.now(dt.UTC)
    claims: dict[str, object] = {
        "iss": api.gateway.settings.issuer,
        "aud": api.gateway.settings.audience,
        "sub": client_id,
        "iat": now,
        "nbf": now,
        "exp": now + dt.timedelta(minutes=5),
        "scope": "registry:write",
        "dept": "market_regulation",
        "subject_code": "",
    }
    claims.update(overrides)
    return claims


async def _subject_count(api: Api) -> int:
    reply = await api.http.get("/v1/subjects", params={"q": "测试科技"})
    return len(reply.json()["items"])


async def test_a_client_gets_a_short_lived_token_with_its_scopes(api: Api) -> None:
    writer = await api.client(["registry:write", "credit:shared"])
    reply = await api.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(writer["client_id"], writer["client_secret"]),
    )
    body = reply.json()
    assert reply.status_code == 200 and body["token_type"] == "Bearer"
    assert body["expires_in"] == api.gateway.settings.token_ttl_seconds
    assert set(body["scope"].split()) == {"registry:write", "credit:shared"}
    jwks = (await api.http.get("/.well-known/jwks.json")).json()
    header = jwt.get_unverified_header(body["access_token"])
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    claims = jwt.decode(
        body["access_token"],
        jwt.PyJWK(key).key,
        algorithms=["ES256"],
        audience=api.gateway.settings.audience,
    )
    assert claims["sub"] == writer["client_id"] and claims["dept"] == "market_regulation"


async def test_wrong_credentials_are_invalid_client(api: Api) -> None:
    reply = await api.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": ADMIN_ID, "client_secret": "wrong"},
    )
    assert reply.status_code == 401 and reply.json()["error"] == "invalid_client"
    reply = await api.http.post(
        "/oauth/token",
        data={"grant_type": "password", "client_id": ADMIN_ID, "client_secret": ADMIN_SECRET},
    )
    assert reply.status_code == 400 and reply.json()["error"] == "unsupported_grant_type"


async def test_a_client_cannot_ask_for_scopes_it_does_not_hold(api: Api) -> None:
    reader = await api.client(["credit:shared"])
    reply = await api.http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": reader["client_id"],
            "client_secret": reader["client_secret"],
            "scope": "credit:restricted",
        },
    )
    assert reply.status_code == 400 and reply.json()["error"] == "invalid_scope"


async def test_bad_tokens_are_refused_and_change_nothing(api: Api) -> None:
    writer = await api.client(["registry:write"])
    key = api.gateway.keys.current
    other_key = ec.generate_private_key(ec.SECP256R1())
    good = _claims(api, writer["client_id"])
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    bad_tokens = {
        "expired": jwt.encode(
            _claims(
                api,
                writer["client_id"],
                exp=past,
                iat=past - dt.timedelta(minutes=5),
                nbf=past - dt.timedelta(minutes=5),
            ),
            key.private_key,
            algorithm="ES256",
            headers={"kid": key.kid},
        ),
        "forged with another key": jwt.encode(
            good, other_key, algorithm="ES256", headers={"kid": key.kid}
        ),
        "unknown key id": jwt.encode(good, other_key, algorithm="ES256", headers={"kid": "nope"}),
        "alg none": _b64({"alg": "none", "typ": "JWT", "kid": key.kid})
        + "."
        + _b64(
            {k: (int(v.timestamp()) if isinstance(v, dt.datetime) else v) for k, v in good.items()}
        )
        + ".",
        "HS256 instead of ES256": jwt.encode(
            good, "a-shared-secret-of-32-bytes-long!", algorithm="HS256", headers={"kid": key.kid}
        ),
        "another audience": jwt.encode(
            _claims(api, writer["client_id"], aud="someone-else"),
            key.private_key,
            algorithm="ES256",
            headers={"kid": key.kid},
        ),
        "garbage": "not.a.token",
    }
    for name, token in bad_tokens.items():
        reply = await api.http.post(
            "/v1/subjects", json=ORG, headers={"Authorization": f"Bearer {token}"}
        )
        assert reply.status_code == 401, name
        assert reply.headers["content-type"] == "application/problem+json", name
        assert reply.json()["code"] == "invalid_token", name
    assert await _subject_count(api) == 0


async def test_a_revoked_clients_tokens_stop_working_at_once(api: Api) -> None:
    writer = await api.client(["registry:write"])
    headers = {"Authorization": writer["Authorization"]}
    assert (await api.http.post("/v1/subjects", json=ORG, headers=headers)).status_code == 201
    revoke = await api.http.delete(
        f"/v1/admin/clients/{writer['client_id']}", headers=await api.admin_headers()
    )
    assert revoke.status_code == 200 and revoke.json()["active"] is False
    reply = await api.http.post("/v1/subjects", json={**ORG, "name": "第二家"}, headers=headers)
    assert reply.status_code == 401 and reply.json()["detail"] == "client revoked"
    reply = await api.http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": writer["client_id"],
            "client_secret": writer["client_secret"],
        },
    )
    assert reply.status_code == 401


async def test_writes_need_their_scope(api: Api) -> None:
    reader = await api.client(["credit:shared"])
    reply = await api.http.post(
        "/v1/subjects", json=ORG, headers={"Authorization": reader["Authorization"]}
    )
    assert reply.status_code == 403 and reply.json()["code"] == "scope_missing"
    reply = await api.http.post("/v1/subjects", json=ORG)
    assert reply.status_code == 401
    reply = await api.http.get(
        "/v1/admin/clients", headers={"Authorization": reader["Authorization"]}
    )
    assert reply.status_code == 403 and reply.json()["code"] == "scope_missing"
    assert await _subject_count(api) == 0


async def test_admin_lists_clients_without_their_secrets(api: Api) -> None:
    plain = await api.client(["credit:shared"])
    limited = await api.client(["credit:shared"], rate_limit={"per_second": 5, "burst": 10})
    reply = await api.http.get("/v1/admin/clients", headers=await api.admin_headers())
    assert reply.status_code == 200
    items = reply.json()["items"]
    assert {c["client_id"] for c in items} >= {ADMIN_ID}
    assert all("client_secret" not in c for c in items)
    # A client's own rate limit is shown (it was kept and never answered).
    limits = {c["client_id"]: c["rate_limit"] for c in items}
    assert limits[limited["client_id"]] == {"per_second": 5.0, "burst": 10}
    assert limits[plain["client_id"]] is None


async def test_a_client_with_unknown_scopes_or_department_is_refused(api: Api) -> None:
    reply = await api.http.post(
        "/v1/admin/clients",
        headers=await api.admin_headers(),
        json={"name": "x", "department": "moon", "scopes": ["fly"]},
    )
    assert reply.status_code == 422
    assert {e["field"] for e in reply.json()["errors"]} == {"department", "scopes"}


async def test_a_client_is_bound_only_to_a_registered_subject_by_its_own_code(api: Api) -> None:
    """A subject:self client for a code no subject has (here a wrong check character) was
    stored, bound to nobody; it is refused and nothing is stored. A code given in another
    case is bound as the registry writes it."""
    admin = await api.admin_headers()
    bound = {"name": "自查客户", "department": "market_regulation", "scopes": ["subject:self"]}
    reply = await api.http.post(
        "/v1/admin/clients", headers=admin, json={**bound, "subject_code": "91310115MA8BRK2A84"}
    )
    assert reply.status_code == 422, reply.text
    assert reply.json()["code"] == "unknown_subject"
    assert [e["field"] for e in reply.json()["errors"]] == ["subject_code"]
    listed = (await api.http.get("/v1/admin/clients", headers=admin)).json()["items"]
    assert "自查客户" not in {c["name"] for c in listed}
    writer = {"Authorization": (await api.client(["registry:write"]))["Authorization"]}
    code = (await api.http.post("/v1/subjects", json=ORG, headers=writer)).json()["code"]
    reply = await api.http.post(
        "/v1/admin/clients", headers=admin, json={**bound, "subject_code": f" {code.lower()} "}
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["subject_code"] == code


async def test_a_revocation_at_one_replica_stops_the_tokens_at_the_others(
    registry_process: ServiceProcess,
    make_database_url: Callable[[str], str],
    redis_url: str,
    tmp_path: Path,
) -> None:
    """Two gateways on one database and one Redis: the second has the client cached when
    the first revokes it, and refuses its token all the same."""
    settings = gateway_settings(
        make_database_url("gw"),
        registry_process.address,
        tmp_path,
        redis_url=redis_url,
        client_cache_seconds=300.0,
    )
    first, close_first = await open_api(settings)
    second, close_second = await open_api(settings)
    try:
        writer = await first.client(["registry:write"])
        headers = {"Authorization": writer["Authorization"]}
        created = await second.http.post("/v1/subjects", json=ORG, headers=headers)
        assert created.status_code == 201, created.text  # the second has it cached now
        revoke = await first.http.delete(
            f"/v1/admin/clients/{writer['client_id']}", headers=await first.admin_headers()
        )
        assert revoke.status_code == 200
        for _ in range(100):
            reply = await second.http.post(
                "/v1/subjects", json={**ORG, "name": "第二家"}, headers=headers
            )
            if reply.status_code == 401:
                break
            assert reply.status_code == 201
            await asyncio.sleep(0.02)
        assert reply.status_code == 401 and reply.json()["detail"] == "client revoked"
    finally:
        await close_second()  # type: ignore[misc]
        await close_first()  # type: ignore[misc]


async def test_nul_characters_are_refused_before_they_reach_a_database(api: Api) -> None:
    """PostgreSQL cannot store NUL: a NUL anywhere is a clear 4xx, never a 500."""
    writer = await api.client(["registry:write", "audit:read"])
    headers = {"Authorization": writer["Authorization"]}
    in_query = await api.http.get("/v1/audit", params={"subject_code": "\x00A"}, headers=headers)
    assert in_query.status_code == 422 and in_query.json()["errors"][0]["field"] == "query"
    in_path = await api.http.get("/v1/subjects/91310115MA1K4%00", headers=headers)
    assert in_path.status_code == 422
    in_body = await api.http.post("/v1/subjects", json={**ORG, "name": "A\x00B"}, headers=headers)
    assert in_body.status_code == 422 and "NUL" in in_body.text
    form = {"grant_type": "client_credentials", "client_id": "\x00", "client_secret": "x"}
    assert (await api.http.post("/oauth/token", data=form)).status_code == 401
    assert await _subject_count(api) == 0


async def test_a_token_checked_before_is_refused_once_it_has_expired(api: Api) -> None:
    """Checked tokens are remembered, never past their expiry."""
    writer = await api.client(["registry:write"])
    key = api.gateway.keys.current
    now = dt.datetime.now(dt.UTC)
    claims = _claims(api, writer["client_id"], exp=now + dt.timedelta(seconds=2))
    token = jwt.encode(claims, key.private_key, algorithm="ES256", headers={"kid": key.kid})
    headers = {"Authorization": f"Bearer {token}"}
    assert (await api.http.post("/v1/subjects", json=ORG, headers=headers)).status_code == 201
    await asyncio.sleep(
        max(0.0, (now + dt.timedelta(seconds=2.2) - dt.datetime.now(dt.UTC)).total_seconds())
    )
    reply = await api.http.post("/v1/subjects", json={**ORG, "name": "第二家"}, headers=headers)
    assert reply.status_code == 401 and reply.json()["detail"] == "token expired"


def _oauth_refusal(reply: httpx.Response, status: int, error: str, case: object = "") -> None:
    """An RFC 6749 §5.2 error: the OAuth JSON (not a problem document), never cached, and
    no token in it."""
    assert reply.status_code == status, (case, reply.text)
    assert reply.headers["content-type"] == "application/json", (case, reply.text)
    assert reply.headers["cache-control"] == "no-store", case
    body = reply.json()
    assert body["error"] == error and body["error_description"], (case, body)
    assert "access_token" not in body


async def test_a_token_request_using_basic_and_form_credentials_is_invalid_request(
    api: Api,
) -> None:
    """RFC 6749 §2.3: one authentication method per request; credentials in the form next
    to Basic ones are refused, never silently ignored."""
    writer = await api.client(["registry:write"])
    basic = (writer["client_id"], writer["client_secret"])
    grant = {"grant_type": "client_credentials"}
    for form in (
        {"client_id": ADMIN_ID, "client_secret": ADMIN_SECRET},  # another client's
        {"client_id": ADMIN_ID},
        {"client_secret": ADMIN_SECRET},
        {"client_id": writer["client_id"], "client_secret": writer["client_secret"]},
        {"client_id": writer["client_id"]},  # even the Basic one's own id
    ):
        reply = await api.http.post("/oauth/token", data={**grant, **form}, auth=basic)
        _oauth_refusal(reply, 400, "invalid_request", form)
    # A Basic header that cannot be decoded is a Basic attempt too: the form's (valid)
    # credentials do not stand in for it.
    admin_form = {**grant, "client_id": ADMIN_ID, "client_secret": ADMIN_SECRET}
    reply = await api.http.post(
        "/oauth/token", data=admin_form, headers={"Authorization": "Basic not*base64"}
    )
    _oauth_refusal(reply, 400, "invalid_request")
    # Either method alone still works; a parameter sent without a value counts as omitted.
    reply = await api.http.post("/oauth/token", data={**grant, "client_id": ""}, auth=basic)
    assert reply.status_code == 200 and reply.json()["access_token"]
    assert (await api.http.post("/oauth/token", data=admin_form)).status_code == 200


async def test_a_token_request_without_a_grant_type_form_is_invalid_request(api: Api) -> None:
    """RFC 6749 §5.2: a missing parameter, or no form at all, is 400 invalid_request in the
    OAuth error shape that client libraries parse (not a 422 problem document)."""
    creds = {"client_id": ADMIN_ID, "client_secret": ADMIN_SECRET}
    form_type = {"content-type": "application/x-www-form-urlencoded"}
    for name, request in {
        "no grant_type": {"data": creds},
        "empty grant_type": {"data": {"grant_type": "", **creds}},
        "empty form": {"content": b"", "headers": form_type},
        "no body": {},
        "json body": {"json": {"grant_type": "client_credentials", **creds}},
        "text body": {
            "content": b"grant_type=client_credentials",
            "headers": {"content-type": "text/plain"},
        },
    }.items():
        reply = await api.http.post("/oauth/token", **request)  # type: ignore[arg-type]
        _oauth_refusal(reply, 400, "invalid_request", name)
    # With Basic credentials too, and whether or not they are right.
    for basic in ((ADMIN_ID, ADMIN_SECRET), (ADMIN_ID, "wrong")):
        reply = await api.http.post(
            "/oauth/token", json={"grant_type": "client_credentials"}, auth=basic
        )
        _oauth_refusal(reply, 400, "invalid_request")
        reply = await api.http.post("/oauth/token", data={"scope": "admin"}, auth=basic)
        _oauth_refusal(reply, 400, "invalid_request")
    # A grant type that is there but unknown is still unsupported_grant_type, and bad
    # credentials with a grant type still invalid_client, with its challenge.
    reply = await api.http.post("/oauth/token", data={"grant_type": "password", **creds})
    _oauth_refusal(reply, 400, "unsupported_grant_type")
    reply = await api.http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(ADMIN_ID, "wrong")
    )
    _oauth_refusal(reply, 401, "invalid_client")
    assert reply.headers["www-authenticate"] == 'Basic realm="credit"'


async def test_the_openapi_document_describes_the_token_routes_oauth_errors(api: Api) -> None:
    spec = (await api.http.get("/openapi.json")).json()
    operation = spec["paths"]["/oauth/token"]["post"]
    form = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert spec["components"]["schemas"][form["$ref"].rsplit("/", 1)[1]]["required"] == [
        "grant_type"
    ]
    for status, errors in (
        ("400", {"invalid_request", "unsupported_grant_type", "invalid_scope"}),
        ("401", {"invalid_client"}),
    ):
        response = operation["responses"][status]
        schema = response["content"]["application/json"]["schema"]
        if "$ref" in schema:
            schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        assert set(schema["properties"]["error"]["enum"]) == errors, status
        assert response["content"]["application/json"], status
    # What FastAPI would refuse with 415 or 422 is answered 400 invalid_request: the
    # document does not promise those, nor what no token request can get.
    assert set(operation["responses"]) == {"200", "400", "401", "413", "429", "503"}
