"""Objections and repairs through the gateway, with real registry, records and objections
processes: the records service hears of objections through Redis."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from e2e.conftest import Api
from e2e.test_gateway_records import ORG, penalty_body
from support.processes import ServiceProcess

HASH = hashlib.sha256("处罚决定书".encode()).hexdigest()
EVIDENCE = [{"name": "处罚决定书.pdf", "sha256": HASH}]
Headers = dict[str, str]


@dataclass
class Parties:
    code: str
    record_id: str
    market: Headers  # the record's source department: records:write, objections:verify
    window: Headers  # a service window: objections:file
    handler: Headers  # the credit centre: objections:handle
    subject: Headers  # the subject itself: subject:self


async def bearer(api: Api, scopes: list[str], department: str, code: str | None = None) -> Headers:
    return {"Authorization": (await api.client(scopes, department, code))["Authorization"]}


async def register(api: Api, name: str) -> str:
    registrar = await bearer(api, ["registry:write"], "market_regulation")
    reply = await api.http.post("/v1/subjects", json={**ORG, "name": name}, headers=registrar)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["code"])


async def submit(
    api: Api, code: str, market: Headers, ref: str, days_ago: int = 2, **fields: Any
) -> str:
    body = penalty_body(code, ref, **fields)
    body["decided_on"] = (dt.date.today() - dt.timedelta(days=days_ago)).isoformat()
    reply = await api.http.post("/v1/records", json=body, headers=market)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["record_id"])


async def parties(api: Api, ref: str = "沪监罚〔2026〕101号") -> Parties:
    code = await register(api, "异议测试有限公司")
    market = await bearer(api, ["records:write", "objections:verify"], "market_regulation")
    return Parties(
        code=code,
        record_id=await submit(api, code, market, ref),
        market=market,
        window=await bearer(api, ["objections:file"], "development_reform"),
        handler=await bearer(api, ["objections:handle"], "development_reform"),
        subject=await bearer(api, ["subject:self"], "development_reform", code),
    )


async def file(api: Api, headers: Headers, record_id: str, **extra: Any) -> httpx.Response:
    body = {"target": {"kind": "record", "id": record_id}, "reason": "处罚金额有误"}
    body["evidence"] = EVIDENCE
    body.update(extra)
    return await api.http.post("/v1/objections", json=body, headers=headers)


async def step(api: Api, objection_id: str, action: str, headers: Headers, **body: Any) -> Any:
    return await api.http.post(
        f"/v1/objections/{objection_id}/{action}", json=body, headers=headers
    )


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 5.0) -> float:
    """Polls until the check holds; returns how long that took."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < within, f"not within {within}s"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def record(api: Api, record_id: str, headers: Headers | None = None) -> Any:
    return (await api.http.get(f"/v1/records/{record_id}", headers=headers or {})).json()


async def test_filing_marks_the_record_under_objection_at_every_level_within_a_second(
    objections_api: Api,
) -> None:
    api = objections_api
    p = await parties(api)
    shared = await bearer(api, ["credit:shared"], "finance")
    restricted = await bearer(api, ["credit:restricted"], "development_reform")
    filed = await file(api, p.window, p.record_id)
    assert filed.status_code == 201, filed.text
    objection = filed.json()
    assert (
        objection["state"] == "submitted" and objection["accept_due"] and not objection["overdue"]
    )
    assert objection["missed_due_at"] is None
    assert objection["subject_code"] == p.code
    assert objection["source_department"] == "market_regulation"

    async def marked_everywhere() -> bool:
        views = [await record(api, p.record_id, h) for h in ({}, shared, restricted)]
        return all(v["under_objection"] for v in views)

    elapsed = await eventually(marked_everywhere, within=2.0)
    listed = (await api.http.get(f"/v1/subjects/{p.code}/records")).json()["items"]
    assert [r["under_objection"] for r in listed] == [True]
    assert elapsed < 2.0


async def test_an_upheld_objection_corrects_the_record_exactly_once_and_keeps_every_step(
    objections_api: Api,
) -> None:
    api = objections_api
    p = await parties(api)
    objection_id = (await file(api, p.subject, p.record_id)).json()["objection_id"]
    accepted = await step(api, objection_id, "accept", p.handler, reason="材料齐全，予以受理")
    assert accepted.status_code == 200 and accepted.json()["state"] == "verifying"
    assert accepted.json()["verify_due"]
    corrected = {"fine_amount": 0.5, "penalty_content": "罚款人民币5千元"}
    verified = await step(
        api,
        objection_id,
        "verify",
        p.market,
        finding="error_confirmed",
        corrected_fields=corrected,
        note="金额录入错误",
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["decide_due"] and verified.json()["corrected_fields"] == corrected
    decided = await step(
        api, objection_id, "decide", p.handler, decision="upheld", reason="核实有误"
    )
    assert decided.status_code == 200 and decided.json()["state"] == "upheld"
    assert decided.json()["due_at"] is None and decided.json()["closed_at"]

    async def corrected_and_unmarked() -> bool:
        seen = await record(api, p.record_id)
        return bool(seen["version"] == 2 and not seen["under_objection"])

    await eventually(corrected_and_unmarked)
    await asyncio.sleep(0.5)  # a repeated event would show as a third version
    versions = (await api.http.get(f"/v1/records/{p.record_id}/versions")).json()["versions"]
    assert [v["fields"]["fine_amount"] for v in versions] == [1.0, 0.5]
    assert versions[1]["fields"]["penalty_content"] == "罚款人民币5千元"
    assert versions[1]["fields"]["violation_type"] == "超范围经营"  # the rest is kept
    kept = (await api.http.get(f"/v1/objections/{objection_id}", headers=p.handler)).json()
    assert [(s["action"], s["to_state"]) for s in kept["transitions"]] == [
        ("file", "submitted"),
        ("accept", "verifying"),
        ("verify", "verified"),
        ("decide", "upheld"),
    ]
    assert kept["transitions"][0]["evidence"] == EVIDENCE
    assert kept["transitions"][2]["department"] == "market_regulation"
    assert kept["transitions"][3]["reason"] == "核实有误"


async def test_an_upheld_objection_without_corrected_fields_withdraws_the_record(
    objections_api: Api,
) -> None:
    api = objections_api
    p = await parties(api)
    restricted = await bearer(api, ["credit:restricted"], "development_reform")
    objection_id = (await file(api, p.subject, p.record_id)).json()["objection_id"]
    await step(api, objection_id, "accept", p.handler, reason="受理")
    verified = await step(
        api, objection_id, "verify", p.market, finding="error_confirmed", note="处罚决定已撤销"
    )
    assert verified.status_code == 200, verified.text
    assert not verified.json().get("corrected_fields")
    decided = await step(api, objection_id, "decide", p.handler, decision="upheld", reason="有误")
    assert decided.status_code == 200 and decided.json()["state"] == "upheld"

    async def withdrawn() -> bool:
        seen = await record(api, p.record_id, restricted)
        return bool(seen["status"] == "withdrawn" and not seen["under_objection"])

    await eventually(withdrawn)
    await asyncio.sleep(0.5)  # a repeated event would add a version or a second withdrawal
    seen = await record(api, p.record_id, restricted)
    assert seen["version"] == 1  # withdrawn as it stood: nothing corrected
    versions = (
        await api.http.get(f"/v1/records/{p.record_id}/versions", headers=restricted)
    ).json()["versions"]
    assert [v["fields"]["fine_amount"] for v in versions] == [1.0]
    assert (await api.http.get(f"/v1/records/{p.record_id}")).status_code == 404
    public = await api.http.get(f"/v1/subjects/{p.code}/records")
    assert public.json()["items"] == []  # no longer published


async def test_empty_corrected_fields_are_refused_not_taken_for_a_withdrawal(
    objections_api: Api,
) -> None:
    """{} was stored as no corrections at all, and the upheld objection then withdrew the
    record; corrections are merged over its fields, so {} would have changed nothing."""
    api = objections_api
    p = await parties(api)
    objection_id = (await file(api, p.subject, p.record_id)).json()["objection_id"]
    await step(api, objection_id, "accept", p.handler, reason="受理")
    empty = await step(
        api,
        objection_id,
        "verify",
        p.market,
        finding="error_confirmed",
        corrected_fields={},
        note="金额有误",
    )
    assert empty.status_code == 422, empty.text
    problem = empty.json()
    assert problem["code"] == "validation_failed"
    assert [e["field"] for e in problem["errors"]] == ["corrected_fields"]
    assert "leave it out" in problem["errors"][0]["message"]
    assert "name the fields to correct" in problem["errors"][0]["message"]
    kept = (await api.http.get(f"/v1/objections/{objection_id}", headers=p.handler)).json()
    assert kept["state"] == "verifying" and [s["action"] for s in kept["transitions"]] == [
        "file",
        "accept",
    ]
    seen = await record(api, p.record_id)
    assert seen["status"] == "active" and seen["version"] == 1


async def test_dismissed_rejected_and_withdrawn_objections_clear_the_mark_and_change_nothing(
    objections_api: Api,
) -> None:
    api = objections_api
    p = await parties(api)
    others = [await submit(api, p.code, p.market, f"沪监罚〔2026〕{n}号") for n in (201, 202)]
    dismissed = (await file(api, p.window, p.record_id)).json()["objection_id"]
    rejected = (await file(api, p.window, others[0])).json()["objection_id"]
    withdrawn = (await file(api, p.subject, others[1])).json()["objection_id"]
    await step(api, dismissed, "accept", p.handler, reason="受理")
    await step(api, dismissed, "verify", p.market, finding="no_error", note="信息无误")
    assert (
        await step(api, dismissed, "decide", p.handler, decision="dismissed", reason="无误")
    ).json()["state"] == "dismissed"
    assert (await step(api, rejected, "reject", p.handler, reason="不属于异议范围")).json()[
        "state"
    ] == "rejected"
    assert (await step(api, withdrawn, "withdraw", p.subject, reason="误报")).json()[
        "state"
    ] == "withdrawn"

    async def all_cleared() -> bool:
        seen = [await record(api, r) for r in (p.record_id, *others)]
        return not any(s["under_objection"] for s in seen)

    await eventually(all_cleared)
    for record_id in (p.record_id, *others):
        seen = await record(api, record_id)
        assert seen["version"] == 1 and seen["status"] == "active"


async def test_objections_and_repairs_state_the_level_they_are_shown_at(
    objections_api: Api,
) -> None:
    """Restricted to the subject's own client and the restricted scope; shared to windows,
    handlers and verifying departments; a page at the lowest of its items' levels."""
    api = objections_api
    p = await parties(api)
    auditor = await bearer(api, ["objections:handle", "credit:restricted"], "development_reform")
    filed = await file(api, p.window, p.record_id)
    assert filed.status_code == 201, filed.text
    objection_id = filed.json()["objection_id"]
    assert filed.json()["level"] == "shared"
    path = f"/v1/objections/{objection_id}"
    for headers, level in (
        (p.handler, "shared"),
        (p.market, "shared"),
        (p.subject, "restricted"),
        (auditor, "restricted"),
    ):
        assert (await api.http.get(path, headers=headers)).json()["level"] == level
    own = await file(api, p.subject, p.record_id)
    assert own.status_code == 201 and own.json()["level"] == "restricted"
    accepted = await step(api, own.json()["objection_id"], "accept", p.handler, reason="受理")
    assert accepted.json()["level"] == "shared"
    for headers, level in ((p.handler, "shared"), (p.subject, "restricted")):
        page = (await api.http.get("/v1/objections", headers=headers)).json()
        assert len(page["items"]) == 2 and page["level"] == level
        assert [o["level"] for o in page["items"]] == [level] * 2
    others = {"subject_code": await register(api, "无异议公司")}
    for headers, level in ((p.handler, "shared"), (auditor, "restricted")):
        empty = (await api.http.get("/v1/objections", params=others, headers=headers)).json()
        assert empty["items"] == [] and empty["level"] == level

    old = await submit(api, p.code, p.market, "沪监罚〔2026〕601号", days_ago=120)
    applied = await repair(api, p.subject, old)
    assert applied.status_code == 201 and applied.json()["level"] == "restricted"
    repair_id = applied.json()["repair_id"]
    decided = await api.http.post(
        f"/v1/repairs/{repair_id}/decide",
        json={"decision": "approved", "reason": "符合修复条件"},
        headers=p.handler,
    )
    assert decided.json()["level"] == "shared"
    repairs = (await api.http.get("/v1/repairs", headers=p.handler)).json()
    assert repairs["level"] == "shared" and [r["level"] for r in repairs["items"]] == ["shared"]


async def test_an_identity_number_in_a_cases_texts_is_masked_in_its_steps_too(
    objections_api: Api,
) -> None:
    """A case's steps repeat its texts (the filing's reason, the verifier's note, the
    decision's reason): below restricted they showed a person's identity number in full
    where the case's own fields masked it."""
    api = objections_api
    p = await parties(api, "沪监罚〔2026〕131号")
    number, masked = "11010519491231002X", "110105********002X"
    evidence = [{"name": f"身份证{number}.pdf", "sha256": HASH}]
    filed = await file(
        api, p.window, p.record_id, reason=f"当事人{number}非本人", evidence=evidence
    )
    assert filed.status_code == 201, filed.text
    objection_id = filed.json()["objection_id"]
    await step(api, objection_id, "accept", p.handler, reason=f"受理{number}")
    verified = await step(
        api, objection_id, "verify", p.market, finding="no_error", note=f"核实{number}"
    )
    assert verified.status_code == 200, verified.text
    decided = await step(
        api, objection_id, "decide", p.handler, decision="dismissed", reason=f"维持{number}"
    )
    assert decided.status_code == 200, decided.text
    shared = (await api.http.get(f"/v1/objections/{objection_id}", headers=p.handler)).json()
    assert shared["level"] == "shared" and number not in str(shared), shared
    assert [s["reason"] for s in shared["transitions"]] == [
        f"当事人{masked}非本人",
        f"受理{masked}",
        f"核实{masked}",
        f"维持{masked}",
    ]
    assert shared["evidence"][0]["name"] == f"身份证{masked}.pdf"
    own = (await api.http.get(f"/v1/objections/{objection_id}", headers=p.subject)).json()
    assert own["level"] == "restricted" and own["transitions"][-1]["reason"] == f"维持{number}"


async def test_impossible_transitions_are_409_and_change_nothing(objections_api: Api) -> None:
    api = objections_api
    p = await parties(api)
    objection_id = (await file(api, p.window, p.record_id)).json()["objection_id"]

    async def steps() -> list[str]:
        reply = await api.http.get(f"/v1/objections/{objection_id}", headers=p.handler)
        return [s["action"] for s in reply.json()["transitions"]]

    early = [
        await step(api, objection_id, "decide", p.handler, decision="upheld", reason="r"),
        await step(api, objection_id, "verify", p.market, finding="no_error", note="n"),
    ]
    assert [(r.status_code, r.json()["code"]) for r in early] == [(409, "invalid_transition")] * 2
    assert await steps() == ["file"]
    await step(api, objection_id, "reject", p.handler, reason="不予受理")
    late = [
        await step(api, objection_id, "accept", p.handler, reason="r"),
        await step(api, objection_id, "withdraw", p.window, reason="r"),
        await step(api, objection_id, "reject", p.handler, reason="again"),
    ]
    assert [(r.status_code, r.json()["code"]) for r in late] == [(409, "invalid_transition")] * 3
    assert await steps() == ["file", "reject"]
    missing = await step(
        api, "00000000-0000-0000-0000-000000000000", "accept", p.handler, reason="r"
    )
    assert missing.status_code == 404


async def test_a_step_on_a_persons_objection_shows_the_identity_number_only_unstored(
    objections_api: Api, registry_process: ServiceProcess
) -> None:
    """A handler at the restricted level sees the person's identity number, in an answer no
    one may keep (not a cache, nor Redis for an Idempotency-Key replay). A step done while
    the registry is away after it is answered all the same, the number left out: a 503
    would make the retry a 409 invalid_transition."""
    api = objections_api
    registrar = await bearer(api, ["registry:write"], "market_regulation")
    person = {"kind": "natural_person", "name": "王五", "id_number": "110101199003077774"}
    assert (await api.http.post("/v1/subjects", json=person, headers=registrar)).status_code == 201
    market = await bearer(api, ["records:write", "objections:verify"], "market_regulation")
    record_id = await submit(api, person["id_number"], market, "沪监罚〔2026〕301号")
    window = await bearer(api, ["objections:file"], "development_reform")
    centre = await bearer(api, ["objections:handle", "credit:restricted"], "development_reform")
    filed = await file(api, window, record_id)
    assert filed.status_code == 201, filed.text
    assert filed.json()["subject_code"] == "110101********7774"
    assert filed.json()["level"] == "shared"
    assert "cache-control" not in filed.headers
    objection_id = filed.json()["objection_id"]
    accepted = await step(api, objection_id, "accept", centre, reason="材料齐全，予以受理")
    assert accepted.status_code == 200 and accepted.json()["subject_code"] == person["id_number"]
    assert accepted.json()["level"] == "restricted"
    assert accepted.headers["cache-control"] == "no-store"

    registry_process.stop()
    verified = await step(api, objection_id, "verify", market, finding="no_error", note="无误")
    assert verified.status_code == 200, verified.text
    assert verified.json()["state"] == "verified" and verified.json()["subject_code"] == ""
    decided = await step(api, objection_id, "decide", centre, decision="dismissed", reason="r")
    assert decided.status_code == 200, decided.text
    assert decided.json()["state"] == "dismissed" and decided.json()["subject_code"] == ""
    assert decided.json()["level"] == "shared"  # the number left out: nothing restricted shown
    assert "cache-control" not in decided.headers


async def test_each_step_needs_its_scope_and_verification_the_source_department(
    objections_api: Api,
) -> None:
    api = objections_api
    p = await parties(api)
    tax = await bearer(api, ["objections:verify"], "tax")
    stranger = await bearer(
        api, ["subject:self"], "development_reform", await register(api, "他人公司")
    )
    assert (await file(api, {}, p.record_id)).status_code == 401
    denied = await file(api, await bearer(api, ["credit:shared"], "finance"), p.record_id)
    assert denied.status_code == 403 and denied.json()["code"] == "scope_missing"
    mine = await file(api, stranger, p.record_id)
    assert mine.status_code == 403 and mine.json()["code"] == "subject_mismatch"
    objection_id = (await file(api, p.window, p.record_id)).json()["objection_id"]
    for action, body in (
        ("accept", {"reason": "r"}),
        ("decide", {"decision": "upheld", "reason": "r"}),
    ):
        reply = await step(api, objection_id, action, p.window, **body)
        assert reply.status_code == 403 and reply.json()["code"] == "scope_missing"
    assert (await step(api, objection_id, "withdraw", p.subject, reason="r")).json()[
        "code"
    ] == "not_filer"
    await step(api, objection_id, "accept", p.handler, reason="受理")
    wrong = await step(api, objection_id, "verify", tax, finding="no_error", note="n")
    assert wrong.status_code == 403 and wrong.json()["code"] == "department_mismatch"
    assert (
        await step(api, objection_id, "verify", p.handler, finding="no_error", note="n")
    ).json()["code"] == "scope_missing"

    # Reads: the handler sees all, the subject its own, the verifier its department's.
    assert (
        await api.http.get(f"/v1/objections/{objection_id}", headers=p.subject)
    ).status_code == 200
    assert (
        await api.http.get(f"/v1/objections/{objection_id}", headers=stranger)
    ).status_code == 404
    assert (await api.http.get(f"/v1/objections/{objection_id}", headers=tax)).status_code == 404
    assert (await api.http.get("/v1/objections")).status_code == 401
    for headers, count in ((p.handler, 1), (p.subject, 1), (p.market, 1), (stranger, 0), (tax, 0)):
        listed = await api.http.get("/v1/objections", headers=headers)
        assert len(listed.json()["items"]) == count, listed.text
    other = await api.http.get("/v1/objections", params={"subject_code": p.code}, headers=stranger)
    assert other.status_code == 403 and other.json()["code"] == "subject_mismatch"


async def test_concurrent_accepts_let_exactly_one_win(objections_api: Api) -> None:
    api = objections_api
    p = await parties(api)
    objection_id = (await file(api, p.window, p.record_id)).json()["objection_id"]
    replies = await asyncio.gather(
        *(step(api, objection_id, "accept", p.handler, reason=f"受理 {n}") for n in range(8)),
        step(api, objection_id, "reject", p.handler, reason="不予受理"),
    )
    assert sorted(r.status_code for r in replies) == [200] + [409] * 8
    kept = (await api.http.get(f"/v1/objections/{objection_id}", headers=p.handler)).json()
    assert len(kept["transitions"]) == 2 and kept["state"] in ("verifying", "rejected")


async def test_bad_objections_get_clear_problems_and_store_nothing(objections_api: Api) -> None:
    api = objections_api
    p = await parties(api)
    other = await register(api, "另一家公司")
    withdrawn = await submit(api, p.code, p.market, "沪监罚〔2026〕301号")
    await api.http.post(
        f"/v1/records/{withdrawn}/withdraw", json={"reason": "撤销"}, headers=p.market
    )
    cases: list[tuple[httpx.Response, int, str]] = [
        (await file(api, p.window, p.record_id, subject_code=other), 403, "subject_mismatch"),
        (
            await file(api, p.window, p.record_id, subject_code="91310115MA8BRK2A83"),
            422,
            "unknown_subject",
        ),
        (
            await file(api, p.window, p.record_id, subject_code="91310115MA8BRK2A84"),
            422,
            "invalid_code",
        ),
        (await file(api, p.window, withdrawn), 409, "target_withdrawn"),
        (await file(api, p.window, "00000000-0000-0000-0000-000000000000"), 422, "unknown_target"),
        (
            await file(api, p.window, p.record_id, evidence=[{"name": "a.pdf"}]),
            422,
            "validation_failed",
        ),
        (
            await file(api, p.window, p.record_id, evidence=[{"name": "a.pdf", "sha256": "abc"}]),
            422,
            "validation_failed",
        ),
        (await file(api, p.window, p.record_id, reason=""), 422, "validation_failed"),
    ]
    for reply, status, code in cases:
        assert (reply.status_code, reply.json()["code"]) == (status, code), reply.text
    assert cases[5][0].json()["errors"] == [
        {"field": "evidence.0.sha256", "message": "Field required"}
    ]
    assert (await api.http.get("/v1/objections", headers=p.handler)).json()["items"] == []

    first = await file(api, p.window, p.record_id)
    second = await file(api, p.window, p.record_id)
    assert second.status_code == 409 and second.json()["code"] == "objection_open"
    assert (await file(api, p.subject, p.record_id)).status_code == 201  # another filer may
    objection_id = first.json()["objection_id"]
    await step(api, objection_id, "accept", p.handler, reason="受理")
    await step(api, objection_id, "verify", p.market, finding="no_error", note="无误")
    reasonless = await step(api, objection_id, "decide", p.handler, decision="upheld")
    assert reasonless.status_code == 422 and reasonless.json()["errors"][0]["field"] == "reason"
    blank = await step(api, objection_id, "decide", p.handler, decision="upheld", reason=" ")
    assert blank.status_code == 422 and blank.json()["code"] == "reason_required"
    unfit = await step(api, objection_id, "decide", p.handler, decision="maybe", reason="r")
    assert unfit.status_code == 422
    reply = await api.http.get(f"/v1/objections/{objection_id}", headers=p.handler)
    assert reply.json()["state"] == "verified"


async def repair(api: Api, headers: Headers, record_id: str, **extra: Any) -> httpx.Response:
    body: dict[str, Any] = {
        "target": {"kind": "record", "id": record_id},
        "grounds": "已全额缴纳罚款并完成整改",
        "evidence": EVIDENCE,
        "commitment": True,
    }
    body.update(extra)
    return await api.http.post("/v1/repairs", json=body, headers=headers)


async def test_repairs_are_refused_with_the_reason_and_date_or_end_publication_when_approved(
    objections_api: Api,
) -> None:
    api = objections_api
    p = await parties(api)
    shared = await bearer(api, ["credit:shared"], "finance")
    suspended = await submit(
        api, p.code, p.market, "沪监罚〔2026〕401号", penalty_kinds=["fine", "suspension"]
    )
    old = await submit(api, p.code, p.market, "沪监罚〔2026〕402号", days_ago=120)

    refused = await repair(api, p.window, suspended)
    assert refused.status_code == 422 and refused.json()["code"] == "not_repairable"
    assert "suspension" in refused.json()["detail"] and "possible_from" not in refused.json()
    early = await repair(api, p.subject, p.record_id)
    problem = early.json()
    assert early.status_code == 422 and problem["code"] == "too_early"
    possible = dt.date.fromisoformat(problem["possible_from"])
    assert possible > dt.date.today() and problem["possible_from"] in problem["detail"]
    assert (await record(api, p.record_id))["repair_possible_from"] == problem["possible_from"]
    uncommitted = await repair(api, p.window, old, commitment=False)
    assert uncommitted.json()["code"] == "commitment_required"

    applied = await repair(api, p.subject, old)
    assert applied.status_code == 201, applied.text
    repair_id = applied.json()["repair_id"]
    assert applied.json()["state"] == "submitted" and applied.json()["decide_due"]
    assert (await repair(api, p.window, old)).json()["code"] == "repair_open"
    decide = f"/v1/repairs/{repair_id}/decide"
    body = {"decision": "approved", "reason": "符合修复条件"}
    assert (await api.http.post(decide, json=body, headers=p.window)).status_code == 403
    approved = await api.http.post(decide, json=body, headers=p.handler)
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    again = await api.http.post(decide, json={**body, "decision": "rejected"}, headers=p.handler)
    assert again.status_code == 409

    async def repaired() -> bool:
        public = await api.http.get(f"/v1/records/{old}")
        return public.status_code == 404 and (await record(api, old, shared))["repaired"]

    await eventually(repaired)
    seen = await api.http.get(f"/v1/repairs/{repair_id}", headers=p.subject)
    assert seen.json()["decision_reason"] == "符合修复条件"
    assert len(seen.json()["transitions"]) == 2


async def test_an_approval_is_refused_for_a_record_corrected_past_repair_since_it_was_applied(
    objections_api: Api,
) -> None:
    """Eligibility was checked only at the application: a record corrected afterwards to a
    penalty kind that bars repair was still taken out of publication by the approval."""
    api = objections_api
    p = await parties(api)
    old = await submit(api, p.code, p.market, "沪监罚〔2026〕404号", days_ago=120)
    applied = await repair(api, p.subject, old)
    assert applied.status_code == 201, applied.text
    fields = penalty_body(p.code, "沪监罚〔2026〕404号", penalty_kinds=["fine", "suspension"])
    corrected = await api.http.post(
        f"/v1/records/{old}/correct",
        headers=p.market,
        json={"fields": fields["fields"], "reason": "漏录责令停产停业"},
    )
    assert corrected.status_code == 200, corrected.text
    decide = f"/v1/repairs/{applied.json()['repair_id']}/decide"
    body = {"decision": "approved", "reason": "符合修复条件"}
    refused = await api.http.post(decide, json=body, headers=p.handler)
    assert refused.status_code == 422 and refused.json()["code"] == "not_repairable", refused.text
    assert "suspension" in refused.json()["detail"]
    seen = await api.http.get(f"/v1/repairs/{applied.json()['repair_id']}", headers=p.subject)
    assert seen.json()["state"] == "submitted"
    rejected = await api.http.post(
        decide, json={"decision": "rejected", "reason": "不符合修复条件"}, headers=p.handler
    )
    assert rejected.status_code == 200, rejected.text
    public = await api.http.get(f"/v1/records/{old}")
    assert public.status_code == 200 and not public.json().get("repaired")


async def test_a_rejected_repair_keeps_its_reason_and_changes_nothing(
    objections_api: Api,
) -> None:
    api = objections_api
    p = await parties(api)
    old = await submit(api, p.code, p.market, "沪监罚〔2026〕403号", days_ago=120)
    repair_id = (await repair(api, p.subject, old)).json()["repair_id"]
    decide = f"/v1/repairs/{repair_id}/decide"
    unreasoned = await api.http.post(decide, json={"decision": "rejected"}, headers=p.handler)
    assert unreasoned.status_code == 422
    blank = await api.http.post(
        decide, json={"decision": "rejected", "reason": "  "}, headers=p.handler
    )
    assert blank.status_code == 422 and blank.json()["code"] == "reason_required"
    assert (await api.http.get(f"/v1/repairs/{repair_id}", headers=p.subject)).json()[
        "state"
    ] == "submitted"
    body = {"decision": "rejected", "reason": "整改材料不全"}
    rejected = await api.http.post(decide, json=body, headers=p.handler)
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    seen = (await api.http.get(f"/v1/repairs/{repair_id}", headers=p.subject)).json()
    assert seen["decision_reason"] == "整改材料不全"
    assert [s["to_state"] for s in seen["transitions"]] == ["submitted", "rejected"]
    await asyncio.sleep(0.5)  # a rejection sends nothing that ends publication
    public = await api.http.get(f"/v1/records/{old}")
    assert public.status_code == 200 and not public.json().get("repaired")
    again = await repair(api, p.subject, old)  # the subject may apply again
    assert again.status_code == 201, again.text


async def test_a_withdrawn_record_closes_its_open_objections_and_lists_show_what_is_due(
    objections_api: Api,
) -> None:
    api = objections_api
    p = await parties(api)
    second = await submit(api, p.code, p.market, "沪监罚〔2026〕501号")
    first_id = (await file(api, p.window, p.record_id)).json()["objection_id"]
    second_id = (await file(api, p.window, second)).json()["objection_id"]
    await step(api, second_id, "accept", p.handler, reason="受理")
    listed = (
        await api.http.get("/v1/objections", params={"state": "open"}, headers=p.handler)
    ).json()
    assert [o["objection_id"] for o in listed["items"]] == [
        first_id,
        second_id,
    ]  # soonest due first
    overdue = await api.http.get("/v1/objections", params={"overdue": "true"}, headers=p.handler)
    assert overdue.json()["items"] == []

    await api.http.post(
        f"/v1/records/{p.record_id}/withdraw", json={"reason": "撤销处罚决定"}, headers=p.market
    )

    async def closed() -> bool:
        reply = await api.http.get(f"/v1/objections/{first_id}", headers=p.handler)
        return bool(reply.json()["state"] == "withdrawn")

    await eventually(closed)
    last = (await api.http.get(f"/v1/objections/{first_id}", headers=p.handler)).json()
    assert last["transitions"][-1]["actor"] == "objections"
    assert "withdrawn" in last["transitions"][-1]["reason"]
    page = await api.http.get(
        "/v1/objections", params={"state": "open", "page_size": 1}, headers=p.handler
    )
    assert [o["objection_id"] for o in page.json()["items"]] == [second_id]
    assert page.json()["next_page_token"] is None


async def test_the_openapi_document_describes_the_objection_routes(api: Api) -> None:
    spec = (await api.http.get("/openapi.json")).json()
    for path in (
        "/v1/objections",
        "/v1/objections/{objection_id}",
        "/v1/objections/{objection_id}/accept",
        "/v1/objections/{objection_id}/reject",
        "/v1/objections/{objection_id}/verify",
        "/v1/objections/{objection_id}/decide",
        "/v1/objections/{objection_id}/withdraw",
        "/v1/repairs",
        "/v1/repairs/{repair_id}",
        "/v1/repairs/{repair_id}/decide",
    ):
        assert path in spec["paths"], path
