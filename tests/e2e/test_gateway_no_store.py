"""Every answer that shows a natural person's identity number in full (the restricted level)
is marked `Cache-Control: no-store`; an organisation's answers, and a person's masked
below the restricted level, are not."""

from __future__ import annotations

import httpx
import pytest

from e2e.conftest import Api
from e2e.test_gateway_lists import ORG, entry, headers
from e2e.test_gateway_records import penalty_body
from support.processes import ServiceProcess

PERSON = {"kind": "natural_person", "name": "张三丰", "id_number": "11010519491231002X"}
TWIN = {"kind": "natural_person", "name": "张三丰", "id_number": "110101199003077774"}
PURPOSE = {"purpose": "信用核查"}


@pytest.fixture
def objections_env(objections_env: dict[str, str], lists_process: ServiceProcess) -> dict[str, str]:
    return {**objections_env, "LISTS_ADDRESS": lists_process.address}


def no_store(reply: httpx.Response) -> bool:
    assert reply.status_code in (200, 201), reply.text
    return reply.headers.get("cache-control") == "no-store"


async def registered(api: Api, name: str = "无存储测试有限公司") -> tuple[str, str]:
    """A natural person's identity number and an organisation's code, both registered."""
    registrar = await headers(api, ["registry:write"])
    person = await api.http.post("/v1/subjects", json=PERSON, headers=registrar)
    assert person.status_code == 201, person.text
    org = await api.http.post("/v1/subjects", json={**ORG, "name": name}, headers=registrar)
    assert org.status_code == 201, org.text
    return PERSON["id_number"], str(org.json()["code"])


async def test_a_subject_read_at_the_restricted_level_is_no_store_for_a_person(
    api: Api,
) -> None:
    person, org = await registered(api)
    restricted = await headers(api, ["credit:restricted"], "finance")
    shared = await headers(api, ["credit:shared"], "finance")

    full = await api.http.get(f"/v1/subjects/{person}", params=PURPOSE, headers=restricted)
    assert full.json()["code"] == person and full.json()["level"] == "restricted"
    assert no_store(full)
    me = await api.client(["subject:self"], subject_code=person)
    itself = await api.http.get(
        f"/v1/subjects/{person}", headers={"Authorization": me["Authorization"]}
    )
    assert itself.json()["code"] == person and no_store(itself)

    masked = [
        await api.http.get(f"/v1/subjects/{person}", params=PURPOSE, headers=shared),
        await api.http.get(
            f"/v1/subjects/{person}", params={**PURPOSE, "level": "shared"}, headers=restricted
        ),
        await api.http.get(f"/v1/subjects/{person}"),
    ]
    for reply in masked:
        assert reply.json()["code"] != person and not no_store(reply), reply.json()
    for reply in (
        await api.http.get(f"/v1/subjects/{org}", params=PURPOSE, headers=restricted),
        await api.http.get(f"/v1/subjects/{org}", headers=restricted),
        await api.http.get(f"/v1/subjects/{org}"),
    ):
        assert reply.json()["code"] == org and not no_store(reply)


async def test_a_search_showing_a_person_at_the_restricted_level_is_no_store(api: Api) -> None:
    person, _ = await registered(api)
    restricted = await headers(api, ["credit:restricted"], "finance")
    shared = await headers(api, ["credit:shared"], "finance")

    found = await api.http.get(
        "/v1/subjects", params={"q": PERSON["name"], **PURPOSE}, headers=restricted
    )
    assert [i["code"] for i in found.json()["items"]] == [person]
    assert no_store(found)

    for reply in (
        # a person masked
        await api.http.get("/v1/subjects", params={"q": PERSON["name"], **PURPOSE}, headers=shared),
        # persons left out without a purpose
        await api.http.get("/v1/subjects", params={"q": PERSON["name"]}, headers=restricted),
        # organisations only
        await api.http.get(
            "/v1/subjects", params={"q": "无存储测试", **PURPOSE}, headers=restricted
        ),
    ):
        assert person not in reply.text and not no_store(reply), reply.text
    assert reply.json()["items"]


async def test_a_registrars_answer_showing_a_person_is_no_store(api: Api) -> None:
    registrar = await headers(api, ["registry:write"])
    person = await api.http.post("/v1/subjects", json=PERSON, headers=registrar)
    assert person.json()["code"] == PERSON["id_number"] and no_store(person)
    twin = await api.http.post("/v1/subjects", json=TWIN, headers=registrar)
    assert no_store(twin)
    orgs = [
        await api.http.post("/v1/subjects", json={**ORG, "name": name}, headers=registrar)
        for name in ("存续有限公司", "重复有限公司")
    ]
    assert not any(no_store(o) for o in orgs)
    survivor, duplicate = (str(o.json()["code"]) for o in orgs)

    changed = await api.http.patch(
        f"/v1/subjects/{PERSON['id_number']}",
        json={"status": "active", "reason": "核对"},
        headers=registrar,
    )
    assert changed.json()["level"] == "restricted" and no_store(changed)
    merged = await api.http.post(
        f"/v1/subjects/{TWIN['id_number']}/merge",
        json={"into": PERSON["id_number"], "reason": "重复登记"},
        headers=registrar,
    )
    assert merged.json()["code"] == PERSON["id_number"] and no_store(merged)

    renamed = await api.http.patch(
        f"/v1/subjects/{survivor}", json={"name": "更名后有限公司"}, headers=registrar
    )
    assert not no_store(renamed)
    merged = await api.http.post(
        f"/v1/subjects/{duplicate}/merge",
        json={"into": survivor, "reason": "重复登记"},
        headers=registrar,
    )
    assert merged.json()["code"] == survivor and not no_store(merged)


async def test_a_report_at_the_restricted_level_is_no_store_for_a_person(
    objections_api: Api,
) -> None:
    api = objections_api
    person, org = await registered(api)
    restricted = await headers(api, ["credit:restricted"], "finance")
    shared = await headers(api, ["credit:shared"], "finance")
    path = f"/v1/subjects/{person}/report"

    full = await api.http.get(path, params=PURPOSE, headers=restricted)
    assert full.json()["subject"]["code"] == person and full.json()["level"] == "restricted"
    assert no_store(full)
    for reply in (
        await api.http.get(path, params=PURPOSE, headers=shared),
        await api.http.get(path),
        await api.http.get(f"/v1/subjects/{org}/report", params=PURPOSE, headers=restricted),
        await api.http.get(f"/v1/subjects/{org}/report"),
    ):
        assert reply.json()["level"] in ("public", "shared", "restricted")
        assert person not in reply.text and not no_store(reply), reply.text


async def test_a_persons_records_and_entries_read_at_the_restricted_level_are_no_store(
    objections_api: Api,
) -> None:
    api = objections_api
    person, org = await registered(api)
    market = await headers(api, ["records:write"], "market_regulation")
    court = await headers(api, ["lists:write"], "court")
    restricted = await headers(api, ["credit:restricted"], "finance")
    shared = await headers(api, ["credit:shared"], "finance")
    ids: dict[str, tuple[str, str]] = {}
    for code, ref in ((person, "沪监罚〔2026〕81号"), (org, "沪监罚〔2026〕82号")):
        record = await api.http.post("/v1/records", json=penalty_body(code, ref), headers=market)
        assert record.status_code == 201, record.text
        listed = await api.http.post(
            "/v1/list-entries", json=entry(code, "court_dishonest_debtor"), headers=court
        )
        assert listed.status_code == 201, listed.text
        ids[code] = (record.json()["record_id"], listed.json()["entry_id"])

    def reads(code: str) -> list[tuple[str, dict[str, str]]]:
        record_id, entry_id = ids[code]
        return [
            (f"/v1/subjects/{code}/records", PURPOSE),
            (f"/v1/subjects/{code}/lists", PURPOSE),
            (f"/v1/records/{record_id}", PURPOSE),
            (f"/v1/records/{record_id}/versions", PURPOSE),
            (f"/v1/list-entries/{entry_id}", PURPOSE),
            ("/v1/list-entries", {"subject_code": code, **PURPOSE}),
        ]

    for path, params in reads(person):
        full = await api.http.get(path, params=params, headers=restricted)
        # The versions name no subject, but are a person's record as the restricted level
        # sees it: kept from caches alike.
        assert (person in full.text or path.endswith("/versions")) and no_store(full), path
        masked = await api.http.get(path, params=params, headers=shared)
        assert person not in masked.text and not no_store(masked), path
    for path, params in reads(org):
        assert not no_store(await api.http.get(path, params=params, headers=restricted)), path
