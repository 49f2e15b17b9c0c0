"""Problem documents about the request's input (400, 422) carry a non-empty `errors` list
naming the field (API.md, Conventions), whoever refused the request: FastAPI or Starlette
reading it, the gateway's checks, or a service that named no field."""

from __future__ import annotations

from typing import Any

import httpx

from e2e.conftest import Api
from e2e.test_gateway_lists import ORG, headers

JSON = {"content-type": "application/json"}


def problem(reply: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    document: dict[str, Any] = reply.json()
    assert document["code"] == code and document["status"] == status, document
    assert document["errors"] and all(e["field"] and e["message"] for e in document["errors"])
    return document


def fields(document: dict[str, Any]) -> list[str]:
    return [e["field"] for e in document["errors"]]


async def test_a_body_that_cannot_be_read_as_json_names_the_body(api: Api) -> None:
    registrar = {**await headers(api, ["registry:write"]), **JSON}
    for body in (b'\xff\xfe{"kind": "organization"}', b'{"name": "\xe5\xbc"}'):  # not UTF-8
        reply = await api.http.post("/v1/subjects", content=body, headers=registrar)
        assert fields(problem(reply, 400, "malformed_json")) == ["body"]
    cut = await api.http.post("/v1/subjects", content=b'{"kind": ', headers=registrar)
    assert fields(problem(cut, 400, "malformed_json")) == ["body"]


async def test_a_json_route_given_a_body_of_another_type_is_415(api: Api) -> None:
    """A valid JSON body sent as text/plain or as a form was a 422 "Input should be a valid
    dictionary", naming a body that was valid; the OpenAPI promised 415. A +json type and
    a charset parameter are JSON."""
    registrar = await headers(api, ["registry:write"])
    body = b'{"codes": ["91310115MA8BRK2A83"]}'
    for media in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        reply = await api.http.post(
            "/v1/codes/validate", content=body, headers={**registrar, "content-type": media}
        )
        assert fields(problem(reply, 415, "unsupported_media_type")) == ["Content-Type"], media
        assert media in reply.json()["detail"]
    for media in ("application/json; charset=utf-8", "application/merge-patch+json"):
        reply = await api.http.post(
            "/v1/codes/validate", content=body, headers={**registrar, "content-type": media}
        )
        assert reply.status_code == 200, (media, reply.text)
    untyped = await api.http.post("/v1/codes/validate", content=body, headers=registrar)
    assert fields(problem(untyped, 415, "unsupported_media_type")) == ["Content-Type"]
    # A JSON body that does not fit stays a 422 naming its fields; no body at all, the body.
    typed = {**registrar, **JSON}
    reply = await api.http.post("/v1/codes/validate", content=b'{"codes": 1}', headers=typed)
    assert fields(problem(reply, 422, "validation_failed")) == ["codes"]
    reply = await api.http.post("/v1/codes/validate", headers=registrar)
    assert fields(problem(reply, 422, "validation_failed")) == ["body"]


async def test_a_form_that_cannot_be_parsed_names_the_body(api: Api) -> None:
    reply = await api.http.post(
        "/oauth/token",
        content=b"--x\r\ngrant_type",
        headers={"content-type": "multipart/form-data"},  # no boundary
    )
    assert fields(problem(reply, 400, "http_error")) == ["body"]


async def test_a_query_parameter_of_the_wrong_type_names_the_parameter(api: Api) -> None:
    for params, field in (
        ({"page_size": "abc"}, "page_size"),
        ({"page_size": "0"}, "page_size"),
        ({"kind": "company"}, "kind"),
        ({"level": "secret"}, "level"),
    ):
        reply = await api.http.get("/v1/subjects", params=params)
        assert fields(problem(reply, 422, "validation_failed")) == [field], params


async def test_a_services_refusal_without_a_field_still_names_one(api: Api) -> None:
    registrar = await headers(api, ["registry:write"])
    created = await api.http.post(
        "/v1/subjects", json={**ORG, "name": "字段测试有限公司"}, headers=registrar
    )
    code = created.json()["code"]
    reasonless = await api.http.patch(
        f"/v1/subjects/{code}", json={"status": "revoked"}, headers=registrar
    )
    assert fields(problem(reasonless, 422, "reason_required")) == ["reason"]
    reasonless = await api.http.post(
        f"/v1/subjects/{code}/merge", json={"into": code, "reason": " "}, headers=registrar
    )
    assert fields(problem(reasonless, 422, "reason_required")) == ["reason"]
    nothing = await api.http.patch(f"/v1/subjects/{code}", json={}, headers=registrar)
    assert fields(problem(nothing, 422, "invalid_argument")) == ["body"]


async def test_other_problems_carry_no_errors(api: Api) -> None:
    unknown = await api.http.get("/v1/subjects/91310115MA8BRK2A83")
    assert unknown.status_code == 404 and "errors" not in unknown.json()
    refused = await api.http.post("/v1/subjects", json={**ORG, "name": "x"})
    assert refused.status_code == 401 and "errors" not in refused.json()
