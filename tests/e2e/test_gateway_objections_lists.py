"""Objections and repairs of list entries, with real registry, records, lists and objections
processes: the lists service hears of them through Redis."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from e2e.conftest import Api
from e2e.test_gateway_objections import EVIDENCE, Headers, bearer, eventually, register, step
from support.processes import ServiceProcess

CHINA = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def objections_env(objections_env: dict[str, str], lists_process: ServiceProcess) -> dict[str, str]:
    return {**objections_env, "LISTS_ADDRESS": lists_process.address}


async def listed(api: Api, code: str, list_type: str, department: str) -> str:
    authority = await bearer(api, ["lists:write"], department)
    body = {
        "subject_code": code,
        "list_type": list_type,
        "reason": "严重违法失信行为",
        "decision_ref": "沪监信〔2026〕8号",
    }
    reply = await api.http.post("/v1/list-entries", json=body, headers=authority)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["entry_id"])


async def entry(api: Api, entry_id: str) -> Any:
    """The entry as the restricted level sees it (past entries included)."""
    reader = await bearer(api, ["credit:restricted"], "development_reform")
    return (await api.http.get(f"/v1/list-entries/{entry_id}", headers=reader)).json()


def target(entry_id: str) -> dict[str, str]:
    return {"kind": "list_entry", "id": entry_id}


async def test_an_objection_holds_an_entry_in_publicity_and_upheld_withdraws_it(
    objections_api: Api,
) -> None:
    api = objections_api
    code = await register(api, "名单异议测试有限公司")
    entry_id = await listed(api, code, "serious_illegal_dishonest", "market_regulation")
    window = await bearer(api, ["objections:file"], "development_reform")
    handler = await bearer(api, ["objections:handle"], "development_reform")
    market = await bearer(api, ["objections:verify"], "market_regulation")
    tax = await bearer(api, ["objections:verify"], "tax")
    body = {"target": target(entry_id), "reason": "并非本公司行为", "evidence": EVIDENCE}
    filed = await api.http.post("/v1/objections", json=body, headers=window)
    assert filed.status_code == 201, filed.text
    objection = filed.json()
    assert objection["source_department"] == "market_regulation"
    assert objection["subject_code"] == code

    async def marked() -> bool:
        return bool((await entry(api, entry_id))["under_objection"])

    await eventually(marked)
    objection_id = objection["objection_id"]
    await step(api, objection_id, "accept", handler, reason="受理")
    wrong = await step(api, objection_id, "verify", tax, finding="error_confirmed", note="n")
    assert wrong.status_code == 403 and wrong.json()["code"] == "department_mismatch"
    fields = await step(
        api,
        objection_id,
        "verify",
        market,
        finding="error_confirmed",
        corrected_fields={"reason": "x"},
        note="n",
    )
    assert fields.status_code == 422  # corrections are for records; an entry is withdrawn
    verified = await step(
        api, objection_id, "verify", market, finding="error_confirmed", note="列入有误"
    )
    assert verified.status_code == 200, verified.text
    await step(api, objection_id, "decide", handler, decision="upheld", reason="列入有误")

    async def withdrawn() -> bool:
        seen = await entry(api, entry_id)
        return bool(seen["state"] == "withdrawn" and not seen["under_objection"])

    await eventually(withdrawn)


async def repair(api: Api, headers: Headers, entry_id: str) -> httpx.Response:
    body = {
        "target": target(entry_id),
        "grounds": "已补缴税款及滞纳金",
        "evidence": EVIDENCE,
        "commitment": True,
    }
    return await api.http.post("/v1/repairs", json=body, headers=headers)


async def test_entries_are_repaired_as_their_list_type_allows(objections_api: Api) -> None:
    api = objections_api
    code = await register(api, "名单修复测试有限公司")
    subject = await bearer(api, ["subject:self"], "development_reform", code)
    handler = await bearer(api, ["objections:handle"], "development_reform")
    court_entry = await listed(api, code, "court_dishonest_debtor", "court")
    serious = await listed(api, code, "serious_illegal_dishonest", "market_regulation")
    tax_entry = await listed(api, code, "major_tax_violation", "tax")

    refused = await repair(api, subject, court_entry)
    assert refused.status_code == 422 and refused.json()["code"] == "not_repairable"
    early = await repair(api, subject, serious)
    assert early.status_code == 422 and early.json()["code"] == "too_early"
    possible_from = dt.datetime.fromisoformat((await entry(api, serious))["repair_possible_from"])
    assert early.json()["possible_from"] == possible_from.astimezone(CHINA).date().isoformat()

    applied = await repair(api, subject, tax_entry)
    assert applied.status_code == 201, applied.text
    decided = await api.http.post(
        f"/v1/repairs/{applied.json()['repair_id']}/decide",
        json={"decision": "approved", "reason": "已履行全部义务"},
        headers=handler,
    )
    assert decided.status_code == 200 and decided.json()["state"] == "approved"

    async def removed() -> bool:
        return bool((await entry(api, tax_entry))["state"] == "removed")

    await eventually(removed)


async def test_an_entry_removed_by_its_authority_closes_the_open_objection(
    objections_api: Api,
) -> None:
    api = objections_api
    code = await register(api, "名单移出测试有限公司")
    subject = await bearer(api, ["subject:self"], "development_reform", code)
    handler = await bearer(api, ["objections:handle"], "development_reform")
    court = await bearer(api, ["lists:write"], "court")
    entry_id = await listed(api, code, "court_dishonest_debtor", "court")
    body = {"target": target(entry_id), "reason": "已履行", "evidence": EVIDENCE}
    objection_id = (await api.http.post("/v1/objections", json=body, headers=subject)).json()[
        "objection_id"
    ]
    removed = await api.http.post(
        f"/v1/list-entries/{entry_id}/remove", json={"reason": "已履行义务"}, headers=court
    )
    assert removed.status_code == 200, removed.text

    async def closed() -> bool:
        reply = await api.http.get(f"/v1/objections/{objection_id}", headers=handler)
        return bool(reply.json()["state"] == "withdrawn")

    await eventually(closed)
    again = await api.http.post("/v1/objections", json=body, headers=subject)
    assert again.status_code == 409 and again.json()["code"] == "target_ended"
