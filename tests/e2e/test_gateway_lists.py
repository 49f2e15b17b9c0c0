"""Red and black lists through the gateway, with real registry, records and lists processes."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

import grpc

from credit.lists.v1 import lists_pb2 as lst
from credit.lists.v1 import lists_pb2_grpc as lst_grpc
from credit_common.timeutil import china_date, utcnow
from e2e.conftest import Api
from support.processes import ServiceProcess

ORG = {
    "kind": "organization",
    "registration_authority": "9",
    "org_category": "1",
    "division_code": "310115",
}
PERSON = {"kind": "natural_person", "name": "李四", "id_number": "11010519491231002X"}


async def register(api: Api, name: str) -> str:
    registrar = {"Authorization": (await api.client(["registry:write"]))["Authorization"]}
    reply = await api.http.post("/v1/subjects", json={**ORG, "name": name}, headers=registrar)
    return str(reply.json()["code"])


async def headers(
    api: Api, scopes: list[str], department: str = "development_reform"
) -> dict[str, str]:
    return {"Authorization": (await api.client(scopes, department=department))["Authorization"]}


def entry(code: str, list_type: str, **extra: Any) -> dict[str, Any]:
    return {
        "subject_code": code,
        "list_type": list_type,
        "reason": "拒不履行生效法律文书确定的义务",
        "decision_ref": "(2026)沪0115执1234号",
        **extra,
    }


async def test_shipped_list_types_and_measures(lists_api: Api) -> None:
    types = {
        t["list_type"]: t for t in (await lists_api.http.get("/v1/list-types")).json()["items"]
    }
    assert types["court_dishonest_debtor"]["authority_department"] == "court"
    assert types["serious_illegal_dishonest"]["publicity_days"] == 10
    measures = {
        m["measure_code"]: m for m in (await lists_api.http.get("/v1/measures")).json()["items"]
    }
    assert "court_dishonest_debtor" in measures["no_flights"]["list_types"]
    assert measures["green_channel"]["kind"] == "reward"


async def test_a_court_listing_restricts_at_once_and_its_removal_lifts_it(lists_api: Api) -> None:
    api = lists_api
    code = await register(api, "失信测试有限公司")
    court = await headers(api, ["lists:write"], "court")
    reply = await api.http.post(
        "/v1/list-entries", json=entry(code, "court_dishonest_debtor"), headers=court
    )
    assert reply.status_code == 201, reply.text
    listed = reply.json()
    assert listed["state"] == "effective" and listed["valid_until"]
    agency = await headers(api, ["credit:shared"], "finance")
    body = {"subject_codes": [code, code.lower(), "91310115MA8BRK2A83", "garbage"]}
    results = (await api.http.post("/v1/restrictions/check", json=body, headers=agency)).json()[
        "results"
    ]
    assert results[0]["restricted"] and {m["measure_code"] for m in results[0]["measures"]} >= {
        "no_flights",
        "procurement_exclusion",
    }
    assert all(m["entry_id"] == listed["entry_id"] for m in results[0]["measures"])
    assert results[1]["restricted"]
    assert results[2]["error"] == "unknown subject" and not results[2]["restricted"]
    assert results[3]["error"]
    only = (
        await api.http.post(
            "/v1/restrictions/check",
            headers=agency,
            json={"subject_codes": [code], "measure_codes": ["no_flights"]},
        )
    ).json()["results"][0]
    assert [m["measure_code"] for m in only["measures"]] == ["no_flights"]
    # The restricted level sees what the shared level sees: its scope may check too.
    centre = await headers(api, ["credit:restricted"], "finance")
    checked = await api.http.post(
        "/v1/restrictions/check", json={"subject_codes": [code]}, headers=centre
    )
    assert checked.status_code == 200 and checked.json()["results"][0]["restricted"]
    assert checked.json()["level"] == "restricted"
    status = (await api.http.get(f"/v1/subjects/{code}/lists")).json()
    assert status["restricted"] and status["entries"][0]["entry_id"] == listed["entry_id"]

    removed = await api.http.post(
        f"/v1/list-entries/{listed['entry_id']}/remove",
        headers=court,
        json={"reason": "已履行全部义务"},
    )
    assert removed.status_code == 200 and removed.json()["state"] == "removed"
    # Proposed, in force at once (no publicity period), removed: each step from the state
    # it left.
    assert [(h["from_state"], h["to_state"]) for h in removed.json()["history"]] == [
        ("publicity", "publicity"),
        ("publicity", "effective"),
        ("effective", "removed"),
    ]
    again = await api.http.post(
        f"/v1/list-entries/{listed['entry_id']}/remove", headers=court, json={"reason": "x"}
    )
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"
    after = (
        await api.http.post(
            "/v1/restrictions/check", json={"subject_codes": [code]}, headers=agency
        )
    ).json()
    assert not after["results"][0]["restricted"]


async def test_a_removal_done_is_answered_though_the_registry_is_away_after_it(
    lists_api: Api, registry_process: ServiceProcess
) -> None:
    """The entry is removed: a 503 would make the court's retry a 409 invalid_transition.
    The answer shows the subject by the lists service's key instead: an organisation's
    code, nothing of a person (neither identity number nor name)."""
    api = lists_api
    code = await register(api, "失信测试有限公司")
    registrar = await headers(api, ["registry:write"])
    assert (await api.http.post("/v1/subjects", json=PERSON, headers=registrar)).status_code == 201
    court = await headers(api, ["lists:write"], "court")
    listed = [
        (
            await api.http.post(
                "/v1/list-entries", json=entry(subject, "court_dishonest_debtor"), headers=court
            )
        ).json()
        for subject in (code, PERSON["id_number"])
    ]
    registry_process.stop()
    answers = [
        await api.http.post(
            f"/v1/list-entries/{e['entry_id']}/remove", headers=court, json={"reason": "已履行"}
        )
        for e in listed
    ]
    assert [a.status_code for a in answers] == [200, 200], answers[1].text
    assert [a.json()["state"] for a in answers] == ["removed", "removed"]
    assert [(a.json()["subject_code"], a.json()["subject_name"]) for a in answers] == [
        (code, ""),
        ("", ""),
    ]


async def test_a_grouped_check_names_the_same_measures_as_a_full_one(
    lists_api: Api, lists_process: ServiceProcess
) -> None:
    """The gateway asks for measures grouped by list type; a caller that does not (an
    older gateway) still gets every measure in full, and both say the same."""
    api = lists_api
    admin = await api.admin_headers()
    honour = {  # a red list without publicity, so that its entries reward at once
        "list_type": "grouped_test_honour_roll",
        "name": "守信测试名单",
        "color": "red",
        "authority_department": "tax",
    }
    assert (await api.http.post("/v1/list-types", json=honour, headers=admin)).status_code == 201
    reward = {
        "measure_code": "grouped_test_priority",
        "name": "优先办理",
        "kind": "reward",
        "implementing_department": "tax",
        "list_types": ["grouped_test_honour_roll"],
    }
    assert (await api.http.post("/v1/measures", json=reward, headers=admin)).status_code == 201
    punished, rewarded, both = [await register(api, f"分组测试{i}有限公司") for i in range(3)]
    court = await headers(api, ["lists:write"], "court")
    tax = await headers(api, ["lists:write"], "tax")
    for code, list_type, dept in [
        (punished, "court_dishonest_debtor", court),
        (both, "court_dishonest_debtor", court),
        (rewarded, "grouped_test_honour_roll", tax),
        (both, "grouped_test_honour_roll", tax),
    ]:
        reply = await api.http.post("/v1/list-entries", json=entry(code, list_type), headers=dept)
        assert reply.status_code == 201, reply.text
    codes = [punished, rewarded, both, "91310115MA8BRK2A83"]

    def measures(result: Any, groups: Any) -> list[tuple[str, ...]]:
        named = [
            (m.measure_code, m.name, m.kind, m.entry_id, m.list_type, m.basis)
            for m in result.measures
        ]
        for t in result.triggering:
            named += [
                (m.measure_code, m.name, m.kind, t.entry_id, t.list_type, m.basis)
                for m in groups[t.list_type].measures
            ]
        return sorted(named)

    async with grpc.aio.insecure_channel(lists_process.address) as channel:
        stub = lst_grpc.ListsServiceStub(channel)
        for asked in ([], ["no_flights", "grouped_test_priority"]):
            full, grouped = [
                await stub.CheckRestrictions(
                    lst.CheckRestrictionsRequest(
                        subject_codes=codes, measure_codes=asked, grouped=g
                    )
                )
                for g in (False, True)
            ]
            assert not full.measures_by_list_type and not any(r.triggering for r in full.results)
            assert not any(r.measures for r in grouped.results)
            for f, g in zip(full.results, grouped.results, strict=True):
                assert (f.code, f.found, f.restricted, f.rewarded, f.error) == (
                    g.code,
                    g.found,
                    g.restricted,
                    g.rewarded,
                    g.error,
                )
                assert measures(f, {}) == measures(g, grouped.measures_by_list_type)
            flags = [(r.restricted, r.rewarded) for r in grouped.results]
            assert flags == [(True, False), (False, True), (True, True), (False, False)]
            assert measures(full.results[2], {}), "the listed subject's measures are named"
            if not asked:
                everything = measures(full.results[2], {})
    gateway = (
        await api.http.post(
            "/v1/restrictions/check",
            json={"subject_codes": codes},
            headers=await headers(api, ["credit:shared"]),
        )
    ).json()["results"]
    assert sorted(
        (m["measure_code"], m["entry_id"], m["list_type"]) for m in gateway[2]["measures"]
    ) == sorted((m[0], m[3], m[4]) for m in everything)


async def test_a_listing_with_publicity_waits_and_shows_on_the_public_listing(
    lists_api: Api,
) -> None:
    api = lists_api
    code = await register(api, "严重违法测试有限公司")
    market = await headers(api, ["lists:write"], "market_regulation")
    listed = (
        await api.http.post(
            "/v1/list-entries", json=entry(code, "serious_illegal_dishonest"), headers=market
        )
    ).json()
    assert listed["state"] == "publicity"
    publicity_until = dt.datetime.fromisoformat(listed["publicity_until"])
    assert 9 <= (publicity_until - dt.datetime.now(dt.UTC)).days <= 10
    public = (
        await api.http.get("/v1/list-entries", params={"list_type": "serious_illegal_dishonest"})
    ).json()
    assert [e["entry_id"] for e in public["items"]] == [listed["entry_id"]]
    agency = await headers(api, ["credit:shared"])
    result = (
        await api.http.post(
            "/v1/restrictions/check", json={"subject_codes": [code]}, headers=agency
        )
    ).json()
    assert not result["results"][0]["restricted"]  # not effective before its publicity ends
    withdrawn = await api.http.post(
        f"/v1/list-entries/{listed['entry_id']}/remove",
        headers=market,
        json={"reason": "认定有误", "withdraw": True},
    )
    assert withdrawn.json()["state"] == "withdrawn"
    assert (
        await api.http.get("/v1/list-entries", params={"list_type": "serious_illegal_dishonest"})
    ).json()["items"] == []


async def test_bad_entries_are_clear_errors(lists_api: Api) -> None:
    api = lists_api
    code = await register(api, "错误测试有限公司")
    other = await register(api, "他人有限公司")
    court = await headers(api, ["lists:write"], "court")
    tax = await headers(api, ["lists:write"], "tax")
    market_records = await headers(api, ["records:write"], "market_regulation")
    record = (
        await api.http.post(
            "/v1/records",
            headers=market_records,
            json={
                "subject_code": other,
                "item_code": "admin_penalty",
                "source_ref": "x-1",
                "decided_on": "2026-11-20",
                "fields": {
                    "violation_type": "v",
                    "violation_facts": "f",
                    "legal_basis": "b",
                    "penalty_kinds": ["warning"],
                    "penalty_content": "c",
                    "severity": "general",
                    "deciding_authority": "a",
                },
            },
        )
    ).json()
    cases = [
        (entry(code, "court_dishonest_debtor"), tax, 403, "department_mismatch"),
        (entry(code, "no_such_list"), court, 422, "unknown_list_type"),
        (
            entry(code, "court_dishonest_debtor", basis_record_ids=[record["record_id"]]),
            court,
            422,
            "validation_failed",
        ),
        (
            entry(code, "court_dishonest_debtor", valid_until="2020-01-01T00:00:00+08:00"),
            court,
            422,
            "validation_failed",
        ),
        (entry("91310115MA8BRK2A83", "court_dishonest_debtor"), court, 422, "unknown_subject"),
        (entry("91310115MA8BRK2A84", "court_dishonest_debtor"), court, 422, "invalid_code"),
    ]
    for body, who, status, problem in cases:
        reply = await api.http.post("/v1/list-entries", json=body, headers=who)
        assert reply.status_code == status and reply.json()["code"] == problem, (
            problem,
            reply.text,
        )
    agency = await headers(api, ["credit:shared"])
    reply = await api.http.post(
        "/v1/restrictions/check", json={"subject_codes": ["x"] * 10_001}, headers=agency
    )
    assert reply.status_code == 422
    reply = await api.http.post("/v1/restrictions/check", json={"subject_codes": [code]})
    assert reply.status_code == 401
    assert (await api.http.get(f"/v1/subjects/{code}/lists")).json()["entries"] == []


async def test_a_withdrawn_record_is_no_basis_for_an_entry_and_a_corrected_one_is(
    lists_api: Api,
) -> None:
    api = lists_api
    code = await register(api, "撤销依据有限公司")
    court = await headers(api, ["lists:write"], "court")
    market_records = await headers(api, ["records:write"], "market_regulation")
    fields = {
        "violation_type": "v",
        "violation_facts": "f",
        "legal_basis": "b",
        "penalty_kinds": ["warning"],
        "penalty_content": "c",
        "severity": "general",
        "deciding_authority": "a",
    }

    async def submit(source_ref: str) -> str:
        reply = await api.http.post(
            "/v1/records",
            headers=market_records,
            json={
                "subject_code": code,
                "item_code": "admin_penalty",
                "source_ref": source_ref,
                "decided_on": "2026-11-20",
                "fields": fields,
            },
        )
        assert reply.status_code == 201, reply.text
        return str(reply.json()["record_id"])

    withdrawn, corrected = await submit("wd-1"), await submit("wd-2")
    reply = await api.http.post(
        f"/v1/records/{withdrawn}/withdraw", headers=market_records, json={"reason": "撤销"}
    )
    assert reply.status_code == 200, reply.text
    reply = await api.http.post(
        f"/v1/records/{corrected}/correct",
        headers=market_records,
        json={"fields": {**fields, "penalty_content": "c2"}, "reason": "更正"},
    )
    assert reply.status_code == 200, reply.text
    reply = await api.http.post(
        "/v1/list-entries",
        json=entry(code, "court_dishonest_debtor", basis_record_ids=[withdrawn]),
        headers=court,
    )
    assert reply.status_code == 422 and reply.json()["code"] == "validation_failed", reply.text
    assert reply.json()["errors"] == [
        {"field": "basis_record_ids", "message": f"record {withdrawn} is withdrawn"}
    ]
    assert (await api.http.get(f"/v1/subjects/{code}/lists")).json()["entries"] == []
    reply = await api.http.post(
        "/v1/list-entries",
        json=entry(code, "court_dishonest_debtor", basis_record_ids=[corrected]),
        headers=court,
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["basis_record_ids"] == [corrected]


async def test_natural_persons_are_masked_on_the_public_listing_and_need_a_purpose(
    lists_api: Api,
) -> None:
    api = lists_api
    registrar = await headers(api, ["registry:write"])
    await api.http.post("/v1/subjects", json=PERSON, headers=registrar)
    court = await headers(api, ["lists:write"], "court")
    assert (
        await api.http.post(
            "/v1/list-entries",
            json=entry(PERSON["id_number"], "court_dishonest_debtor"),
            headers=court,
        )
    ).status_code == 201
    public = (
        await api.http.get("/v1/list-entries", params={"list_type": "court_dishonest_debtor"})
    ).json()["items"]
    assert public[0]["subject_name"] == "李*" and public[0]["subject_code"] == "110105********002X"
    agency = await headers(api, ["credit:shared"])
    blind = (
        await api.http.post(
            "/v1/restrictions/check", json={"subject_codes": [PERSON["id_number"]]}, headers=agency
        )
    ).json()["results"][0]
    assert blind["error"] == "purpose_required"
    # An identity number no subject has is answered alike: the answers do not tell which
    # numbers are registered persons (10,000 a call, unaudited, before). With a purpose
    # it is an unknown code.
    unregistered = "110101199003077774"
    both = {"subject_codes": [PERSON["id_number"], unregistered, "91310115MA8BRK2A84"]}
    blind_results = (
        await api.http.post("/v1/restrictions/check", json=both, headers=agency)
    ).json()["results"]
    assert [r.get("error") for r in blind_results[:2]] == ["purpose_required"] * 2
    assert blind_results[2]["error"] != "purpose_required"  # not an identity number
    seen = (
        await api.http.post(
            "/v1/restrictions/check",
            params={"purpose": "招投标资格审查"},
            json=both,
            headers=agency,
        )
    ).json()["results"]
    assert seen[0]["restricted"]
    assert seen[1]["error"] != "purpose_required" and not seen[1]["restricted"]


async def test_an_identity_number_in_an_entrys_texts_is_masked_below_restricted(
    lists_api: Api,
) -> None:
    """An entry's reason, decision number and steps showed a person's identity number in
    full at every level, where records and objections masked it; its writer still gets
    the texts it sent in full."""
    api = lists_api
    registrar = await headers(api, ["registry:write"])
    await api.http.post("/v1/subjects", json=PERSON, headers=registrar)
    number, masked = PERSON["id_number"], "110105********002X"
    court = await headers(api, ["lists:write"], "court")
    texts = {
        "reason": f"被执行人（身份证号{number}）拒不履行",
        "decision_ref": f"(2026)沪0115执{number}",
    }
    written = await api.http.post(
        "/v1/list-entries",
        json=entry(number, "court_dishonest_debtor", **texts),
        headers=court,
    )
    assert written.status_code == 201, written.text
    assert {k: written.json()[k] for k in texts} == texts
    entry_id = written.json()["entry_id"]
    removed = await api.http.post(
        f"/v1/list-entries/{entry_id}/remove", headers=court, json={"reason": f"{number}已履行"}
    )
    assert removed.status_code == 200, removed.text
    shared = await headers(api, ["credit:shared"])
    seen = await api.http.get(
        f"/v1/list-entries/{entry_id}", params={"purpose": "信用审查"}, headers=shared
    )
    assert seen.status_code == 200, seen.text
    assert seen.json()["level"] == "shared" and number not in seen.text, seen.text
    assert seen.json()["reason"] == f"被执行人（身份证号{masked}）拒不履行"
    assert seen.json()["history"][-1]["reason"] == f"{masked}已履行"
    restricted = await headers(api, ["credit:restricted"])
    full = await api.http.get(
        f"/v1/list-entries/{entry_id}", params={"purpose": "信用审查"}, headers=restricted
    )
    assert full.json()["level"] == "restricted" and full.json()["reason"] == texts["reason"]


def court_record(code: str, case_number: str) -> dict[str, Any]:
    """A court_dishonest record's body (its case number is its source ref)."""
    return {
        "subject_code": code,
        "item_code": "court_dishonest",
        "source_ref": case_number,
        # A week ago: the listing counts from the decision, and must still be in force.
        "decided_on": (china_date(utcnow()) - dt.timedelta(days=7)).isoformat(),
        "fields": {
            "case_number": case_number,
            "court_name": "浦东法院",
            "obligation": "支付货款",
            "performance": "unperformed",
            "dishonest_conduct": "有履行能力而拒不履行",
        },
    }


async def test_a_court_record_lists_its_subject_by_rule_and_its_withdrawal_withdraws_the_entry(
    lists_api: Api,
) -> None:
    api = lists_api
    code = await register(api, "规则测试有限公司")
    court = await headers(api, ["records:write"], "court")
    record = (
        await api.http.post(
            "/v1/records", headers=court, json=court_record(code, "(2026)沪0115执99号")
        )
    ).json()

    async def entries() -> list[dict[str, Any]]:
        return list((await api.http.get(f"/v1/subjects/{code}/lists")).json()["entries"])

    for _ in range(100):
        if await entries():
            break
        await asyncio.sleep(0.1)
    listed = await entries()
    assert [e["list_type"] for e in listed] == ["court_dishonest_debtor"]
    assert (
        listed[0]["basis_record_ids"] == [record["record_id"]] and listed[0]["state"] == "effective"
    )
    await api.http.post(
        f"/v1/records/{record['record_id']}/withdraw", headers=court, json={"reason": "撤销"}
    )
    for _ in range(100):
        if not await entries():
            break
        await asyncio.sleep(0.1)
    assert await entries() == []
    shared = await headers(api, ["credit:shared"])
    past = (await api.http.get(f"/v1/subjects/{code}/lists", headers=shared)).json()["entries"]
    assert [e["state"] for e in past] == ["withdrawn"]


async def test_a_court_record_is_public_until_the_court_removes_its_listing(
    lists_api: Api,
) -> None:
    api = lists_api
    code = await register(api, "履行测试有限公司")
    court = await headers(api, ["records:write", "lists:write"], "court")
    posted = await api.http.post(
        "/v1/records", headers=court, json=court_record(code, "(2026)沪0115执100号")
    )
    assert posted.status_code == 201, posted.text
    shared = await headers(api, ["credit:shared"])

    async def record(level: dict[str, str]) -> dict[str, Any]:
        found = (await api.http.get(f"/v1/subjects/{code}/records", headers=level)).json()
        items = [r for r in found["items"] if r["record_id"] == posted.json()["record_id"]]
        return items[0] if items else {}

    async def until(wanted: Callable[[dict[str, Any]], bool], level: dict[str, str]) -> None:
        for _ in range(300):  # three services' consumers in turn, on a busy machine
            if wanted(await record(level)):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(await record(level))

    # Listed by rule: the record shows its listing's end as its end of publicity. Until the
    # records service hears of the listing, a while-active record is public without end (null).
    await until(lambda r: (r.get("publicity_until") or "") > "2028", shared)
    assert (await record({}))["publicly_visible"]
    listed = (await api.http.get(f"/v1/subjects/{code}/lists")).json()["entries"]
    before = china_date(utcnow())
    removed = await api.http.post(
        f"/v1/list-entries/{listed[0]['entry_id']}/remove",
        headers=court,
        json={"reason": "已履行完毕"},
    )
    assert removed.status_code == 200, removed.text
    await until(lambda r: not r, {})  # gone from the public level
    seen = await record(shared)
    assert seen["status"] == "active" and not seen["publicly_visible"]
    assert before.isoformat() <= seen["publicity_until"] <= china_date(utcnow()).isoformat()


async def test_measure_feedback_is_counted_per_measure_department_and_month(lists_api: Api) -> None:
    api = lists_api
    code = await register(api, "反馈测试有限公司")
    court = await headers(api, ["records:write"], "court")
    decided = china_date(utcnow()) - dt.timedelta(days=40)
    case = {**court_record(code, "(2026)沪0115执77号"), "decided_on": decided.isoformat()}
    assert (await api.http.post("/v1/records", headers=court, json=case)).status_code == 201
    for _ in range(100):  # listed by rule, in force from the decision
        listed = (await api.http.get(f"/v1/subjects/{code}/lists")).json()["entries"]
        if listed:
            break
        await asyncio.sleep(0.1)
    finance = await headers(api, ["credit:shared"], "finance")

    async def feedback(entry_id: str, day: dt.date, measure: str = "procurement_exclusion") -> Any:
        return await api.http.post(
            "/v1/measure-feedback",
            headers=finance,
            json={
                "entry_id": entry_id,
                "measure_code": measure,
                "applied_on": day.isoformat(),
                "outcome": "取消投标资格",
            },
        )

    days = (decided, decided + dt.timedelta(days=35), china_date(utcnow()))
    for day in days:
        reply = await feedback(listed[0]["entry_id"], day)
        assert reply.status_code == 201, reply.text
    wrong = await feedback(listed[0]["entry_id"], days[1], "green_channel")
    assert wrong.status_code == 422
    # Not applied before the entry took effect, nor under an entry that never did.
    early = await feedback(listed[0]["entry_id"], decided - dt.timedelta(days=1))
    assert early.status_code == 422
    assert early.json()["errors"][0]["field"] == "applied_on", early.text
    market = await headers(api, ["lists:write"], "market_regulation")
    pending = (
        await api.http.post(
            "/v1/list-entries", json=entry(code, "serious_illegal_dishonest"), headers=market
        )
    ).json()
    never = await feedback(pending["entry_id"], days[2])
    assert never.status_code == 422
    assert "never took effect" in never.json()["errors"][0]["message"], never.text
    stats = (await api.http.get("/v1/measure-feedback/statistics", headers=finance)).json()[
        "results"
    ]
    months = sorted({d.strftime("%Y-%m") for d in days})
    counts = {m: sum(d.strftime("%Y-%m") == m for d in days) for m in months}
    assert [(s["month"], s["count"]) for s in stats] == list(counts.items())
    assert {s["department"] for s in stats} == {"finance"}


async def test_a_list_type_and_a_measure_name_departments_clients_can_belong_to(
    lists_api: Api,
) -> None:
    """An authority no client can belong to was stored: no one could ever list anybody."""
    api = lists_api
    admin = await api.admin_headers()
    roll = {
        "list_type": "dept_test_roll",
        "name": "部门测试名单",
        "color": "red",
        "authority_department": "sports",
    }
    reply = await api.http.post("/v1/list-types", json=roll, headers=admin)
    assert reply.status_code == 422, reply.text
    assert [e["field"] for e in reply.json()["errors"]] == ["authority_department"]
    assert "'sports'" in reply.text and "civil_affairs" in reply.text
    any_department = {**roll, "authority_department": "*"}
    reply = await api.http.post("/v1/list-types", json=any_department, headers=admin)
    assert reply.status_code == 422, reply.text
    types = (await api.http.get("/v1/list-types")).json()["items"]
    assert "dept_test_roll" not in {t["list_type"] for t in types}
    reply = await api.http.post(
        "/v1/list-types", json={**roll, "authority_department": "tax"}, headers=admin
    )
    assert reply.status_code == 201, reply.text
    measure = {
        "measure_code": "dept_test_priority",
        "name": "优先办理",
        "kind": "reward",
        "implementing_department": "sports",
        "list_types": ["dept_test_roll"],
    }
    reply = await api.http.post("/v1/measures", json=measure, headers=admin)
    assert reply.status_code == 422, reply.text
    assert [e["field"] for e in reply.json()["errors"]] == ["implementing_department"]
