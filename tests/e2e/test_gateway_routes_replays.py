"""What the routes tell the gateway's Redis: answers that show a natural person's identity
number are kept for no Idempotency-Key replay, an answer Redis failed to take at first is
kept soon after, and the public reference reads (catalog, list types, measures) are rate
limited as every other anonymous read."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from e2e.conftest import Api
from e2e.test_gateway_grants_and_replays import kept_answers
from e2e.test_gateway_lists import PERSON, entry
from e2e.test_gateway_records import ORG, penalty_body


async def writer(api: Api, scopes: list[str], department: str) -> tuple[str, dict[str, str]]:
    """A client's id and bearer header."""
    created = await api.client(scopes, department=department)
    return created["client_id"], {"Authorization": created["Authorization"]}


async def twice(api: Api, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    """The same POST sent twice with one Idempotency-Key: (the first answer, the second)."""
    keyed = {**headers, "Idempotency-Key": str(uuid.uuid4())}
    first = await api.http.post(path, json=body, headers=keyed)
    return first, await api.http.post(path, json=body, headers=keyed)


async def test_a_record_answer_showing_an_identity_number_is_not_kept_for_replays(
    redis_api: Api,
) -> None:
    api = redis_api
    number = PERSON["id_number"]
    _, registrar = await writer(api, ["registry:write"], "market_regulation")
    assert (await api.http.post("/v1/subjects", json=PERSON, headers=registrar)).status_code == 201
    org = (await api.http.post("/v1/subjects", json=ORG, headers=registrar)).json()["code"]
    # A writer that may see the restricted level is answered with the number in full.
    market_id, market = await writer(
        api, ["records:write", "credit:restricted"], "market_regulation"
    )

    submitted, replay = await twice(api, "/v1/records", penalty_body(number), market)
    assert submitted.status_code == 201 and submitted.json()["subject_code"] == number
    assert submitted.headers["cache-control"] == "no-store"
    assert replay.status_code == 409 and replay.json()["code"] == "idempotency_answer_not_kept"
    assert replay.json()["first_status"] == 201
    record_id = submitted.json()["record_id"]
    withdrawn, replay = await twice(
        api, f"/v1/records/{record_id}/withdraw", {"reason": "撤销"}, market
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["subject_code"] == number
    assert replay.status_code == 409 and replay.json()["code"] == "idempotency_answer_not_kept"

    of_org, replay = await twice(api, "/v1/records", penalty_body(org, "沪监罚〔2026〕8号"), market)
    assert of_org.status_code == 201 and "cache-control" not in of_org.headers
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == of_org.json()
    kept = await kept_answers(api, market_id)
    assert kept
    assert of_org.json()["record_id"] in kept and number not in kept
    # One that may not is answered with it masked, which is kept and replayed.
    _, masked_market = await writer(api, ["records:write"], "market_regulation")
    submitted, replay = await twice(
        api, "/v1/records", penalty_body(number, "沪监罚〔2026〕9号"), masked_market
    )
    assert submitted.status_code == 201 and number not in submitted.text
    assert replay.status_code == 201 and replay.json() == submitted.json()


async def test_a_list_entry_answer_showing_an_identity_number_is_not_kept_for_replays(
    redis_api: Api,
) -> None:
    api = redis_api
    number = PERSON["id_number"]
    _, registrar = await writer(api, ["registry:write"], "market_regulation")
    assert (await api.http.post("/v1/subjects", json=PERSON, headers=registrar)).status_code == 201
    # A writer that may see the restricted level is answered with the number in full.
    court_id, court = await writer(api, ["lists:write", "credit:restricted"], "court")

    listed, replay = await twice(
        api, "/v1/list-entries", entry(number, "court_dishonest_debtor"), court
    )
    assert listed.status_code == 201 and listed.json()["subject_code"] == number
    assert listed.json()["subject_name"] == PERSON["name"]
    assert replay.status_code == 409 and replay.json()["code"] == "idempotency_answer_not_kept"
    entry_id = listed.json()["entry_id"]
    removed, replay = await twice(
        api, f"/v1/list-entries/{entry_id}/remove", {"reason": "已履行"}, court
    )
    assert removed.status_code == 200 and removed.json()["subject_code"] == number
    assert replay.status_code == 409 and replay.json()["code"] == "idempotency_answer_not_kept"
    kept = await kept_answers(api, court_id)
    assert kept and number not in kept
    # One that may not is answered with it masked, which is kept and replayed.
    _, masked_court = await writer(api, ["lists:write"], "court")
    listed, replay = await twice(
        api, "/v1/list-entries", entry(number, "court_dishonest_debtor"), masked_court
    )
    assert listed.status_code == 201 and number not in listed.text
    assert replay.status_code == 201 and replay.json() == listed.json()


async def test_a_registrars_answer_showing_an_identity_number_is_not_kept_for_replays(
    redis_api: Api,
) -> None:
    api = redis_api
    number = PERSON["id_number"]
    registrar_id, registrar = await writer(api, ["registry:write"], "market_regulation")

    registered, replay = await twice(api, "/v1/subjects", PERSON, registrar)
    assert registered.status_code == 201 and registered.json()["code"] == number
    assert registered.headers["cache-control"] == "no-store"
    assert replay.status_code == 409 and replay.json()["code"] == "idempotency_answer_not_kept"
    assert replay.json()["first_status"] == 201
    twin = {**PERSON, "id_number": "110101199003077774"}
    assert (await api.http.post("/v1/subjects", json=twin, headers=registrar)).status_code == 201
    merged, replay = await twice(
        api,
        f"/v1/subjects/{twin['id_number']}/merge",
        {"into": number, "reason": "重复"},
        registrar,
    )
    assert merged.status_code == 200 and merged.json()["code"] == number
    assert merged.headers["cache-control"] == "no-store"
    assert replay.status_code == 409 and replay.json()["code"] == "idempotency_answer_not_kept"

    of_org, replay = await twice(
        api, "/v1/subjects", {**ORG, "name": "幂等登记有限公司"}, registrar
    )
    assert of_org.status_code == 201 and "cache-control" not in of_org.headers
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == of_org.json()
    kept = await kept_answers(api, registrar_id)
    assert of_org.json()["code"] in kept and number not in kept


async def test_an_answer_redis_failed_to_take_is_replayed_soon_after(
    redis_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis failing just as the first answer is kept (the route has answered): the key is
    settled again shortly, so a repeat that honours Retry-After gets the replay, not five
    minutes of 409 idempotency_in_progress."""
    api = redis_api
    _, registrar = await writer(api, ["registry:write"], "market_regulation")
    redis = api.gateway.redis
    assert redis is not None
    real_set = redis.set
    failed: list[str] = []

    async def set_failing_once(name: str, value: Any, *args: Any, **kwargs: Any) -> Any:
        # A fault around the real Redis: the first write of a settled answer is lost.
        if not failed and '"state": "done"' in str(value):
            failed.append(name)
            raise RedisConnectionError("connection lost (injected)")
        return await real_set(name, value, *args, **kwargs)

    monkeypatch.setattr(redis, "set", set_failing_once)
    keyed = {**registrar, "Idempotency-Key": str(uuid.uuid4())}
    body = {**ORG, "name": "重试保存有限公司"}
    first = await api.http.post("/v1/subjects", json=body, headers=keyed)
    assert first.status_code == 201, first.text
    assert failed and failed[0].startswith("idempotency:")

    for _ in range(5):
        again = await api.http.post("/v1/subjects", json=body, headers=keyed)
        if again.status_code != 409:
            break
        assert again.json()["code"] == "idempotency_in_progress", again.text
        await asyncio.sleep(float(again.headers["retry-after"]))
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    found = await api.http.get("/v1/subjects", params={"q": "重试保存"})
    assert [s["code"] for s in found.json()["items"]] == [first.json()["code"]]


async def test_the_catalog_list_types_and_measures_are_rate_limited_as_other_public_reads(
    redis_api: Api,
) -> None:
    api = redis_api
    anonymous = str(api.gateway.settings.anonymous_rate_limit_burst)
    for path in ("/v1/catalog/items", "/v1/list-types", "/v1/measures", "/v1/subjects"):
        reply = await api.http.get(path)
        assert reply.status_code == 200, reply.text
        assert reply.headers["ratelimit-limit"] == anonymous, path
        assert int(reply.headers["ratelimit-remaining"]) < int(anonymous), path
    _, client = await writer(api, ["credit:shared"], "finance")
    reply = await api.http.get("/v1/catalog/items", headers=client)
    assert reply.headers["ratelimit-limit"] == str(api.gateway.settings.rate_limit_burst)
    bad = await api.http.get("/v1/measures", headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401 and bad.json()["code"] == "invalid_token"


async def test_replays_of_an_idempotency_key_count_against_the_callers_rate_limit(
    redis_api: Api,
) -> None:
    """A repeat answered from Redis reaches no route, whose dependency takes a token from
    the caller's bucket: it is counted here, shows the limit's headers, and past the burst
    is refused 429 with Retry-After like any request."""
    api = redis_api
    created = await api.client(
        ["registry:write"],
        department="market_regulation",
        rate_limit={"per_second": 0.01, "burst": 3},
    )
    keyed = {"Authorization": created["Authorization"], "Idempotency-Key": str(uuid.uuid4())}
    body = {**ORG, "name": "限流重放有限公司"}
    first = await api.http.post("/v1/subjects", json=body, headers=keyed)
    assert first.status_code == 201, first.text
    assert first.headers["ratelimit-remaining"] == "2"
    replay = await api.http.post("/v1/subjects", json=body, headers=keyed)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["ratelimit-remaining"] == "1"
    replies = [await api.http.post("/v1/subjects", json=body, headers=keyed) for _ in range(2)]
    assert [r.status_code for r in replies] == [201, 429]
    assert replies[1].json()["code"] == "rate_limited" and "retry-after" in replies[1].headers
