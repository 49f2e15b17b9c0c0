"""Personal and non-public credit information through the gateway: a report shows nothing
of what its level does not see, every read about a natural person above the public level
is audited with its purpose, and a person's past list entries need one."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest

from e2e.conftest import Api
from e2e.test_gateway_lists import PERSON, entry, headers
from e2e.test_gateway_lists import register as register_org
from e2e.test_gateway_objections import EVIDENCE, Parties, bearer, file, parties, step
from e2e.test_gateway_records import penalty_body
from support.processes import ServiceProcess

PURPOSE = {"purpose": "行政许可审查"}


@pytest.fixture
def objections_env(objections_env: dict[str, str], lists_process: ServiceProcess) -> dict[str, str]:
    return {**objections_env, "LISTS_ADDRESS": lists_process.address}


async def commitment(
    api: Api, code: str, market: dict[str, str], ref: str = "沪监诺〔2026〕3号"
) -> str:
    """A credit commitment (an item disclosed at the shared level) of the subject."""
    body = {
        "subject_code": code,
        "item_code": "credit_commitment",
        "source_ref": ref,
        "decided_on": (dt.date.today() - dt.timedelta(days=2)).isoformat(),
        "fields": {
            "commitment_type": "告知承诺",
            "content": "承诺在六个月内补齐消防验收材料",
            "accepting_authority": "上海市浦东新区市场监督管理局",
        },
    }
    reply = await api.http.post("/v1/records", json=body, headers=market)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["record_id"])


async def verified_objection(
    api: Api, record_id: str, p: Parties, corrected: dict[str, Any], note: str
) -> str:
    """An objection to the record, accepted and verified with corrected fields."""
    objection_id = str((await file(api, p.window, record_id)).json()["objection_id"])
    await step(api, objection_id, "accept", p.handler, reason="材料齐全，予以受理")
    verified = await step(
        api,
        objection_id,
        "verify",
        p.market,
        finding="error_confirmed",
        corrected_fields=corrected,
        note=note,
    )
    assert verified.status_code == 200, verified.text
    return objection_id


async def test_a_report_shows_only_the_objections_about_what_its_level_sees(
    objections_api: Api,
) -> None:
    api = objections_api
    p = await parties(api)
    hidden = await commitment(api, p.code, p.market)
    corrected = {"content": "承诺在三个月内补齐消防验收材料"}
    about_hidden = await verified_objection(api, hidden, p, corrected, "承诺期限录入有误")
    about_public = await verified_objection(
        api, p.record_id, p, {"fine_amount": 0.5}, "罚款金额录入有误"
    )
    court = await headers(api, ["lists:write"], "court")
    listed = await api.http.post(
        "/v1/list-entries", json=entry(p.code, "court_dishonest_debtor"), headers=court
    )
    target = {"kind": "list_entry", "id": listed.json()["entry_id"]}
    about_entry = (
        await api.http.post(
            "/v1/objections",
            json={"target": target, "reason": "已履行义务", "evidence": EVIDENCE},
            headers=p.window,
        )
    ).json()["objection_id"]

    public = (await api.http.get(f"/v1/subjects/{p.code}/report")).json()
    assert public["level"] == "public"
    assert [r["record_id"] for rs in public["records_by_category"].values() for r in rs] == [
        p.record_id
    ]
    assert {o["objection_id"] for o in public["open_objections"]} == {about_public, about_entry}
    assert "承诺" not in str(public["open_objections"])
    # The public sees that they are there and where they stand; not what the subject said
    # (a person's reason may hold a telephone number), its evidence, or the findings.
    for shown in public["open_objections"]:
        assert {"state", "target", "accept_due", "overdue"} <= set(shown)
        assert not {"reason", "evidence", "filed_by", "corrected_fields"} & set(shown)
        assert not {"verification_note", "transitions", "decision_reason"} & set(shown)
    assert "已履行义务" not in str(public["open_objections"])

    shared = await bearer(api, ["credit:shared"], "finance")
    report = (await api.http.get(f"/v1/subjects/{p.code}/report", headers=shared)).json()
    assert report["level"] == "shared"
    seen = {o["objection_id"]: o for o in report["open_objections"]}
    assert set(seen) == {about_hidden, about_public, about_entry}
    assert seen[about_hidden]["corrected_fields"] == corrected
    assert seen[about_entry]["reason"] == "已履行义务"


async def listed_person(api: Api) -> str:
    registrar = await headers(api, ["registry:write"])
    assert (await api.http.post("/v1/subjects", json=PERSON, headers=registrar)).status_code == 201
    court = await headers(api, ["lists:write"], "court")
    reply = await api.http.post(
        "/v1/list-entries", json=entry(PERSON["id_number"], "court_dishonest_debtor"), headers=court
    )
    assert reply.status_code == 201, reply.text
    return str(reply.json()["entry_id"])


async def test_every_read_about_a_person_above_public_is_audited_with_its_purpose(
    lists_api: Api,
) -> None:
    api = lists_api
    entry_id = await listed_person(api)
    person = PERSON["id_number"]
    agency = await api.client(["credit:shared"], department="finance")
    shared = {"Authorization": agency["Authorization"]}
    reads = [
        await api.http.get(f"/v1/subjects/{person}", params=PURPOSE, headers=shared),
        await api.http.get("/v1/subjects", params={"q": PERSON["name"], **PURPOSE}, headers=shared),
        await api.http.get(
            "/v1/list-entries", params={"subject_code": person, **PURPOSE}, headers=shared
        ),
        await api.http.get(f"/v1/list-entries/{entry_id}", params=PURPOSE, headers=shared),
        await api.http.get(
            "/v1/list-entries",
            params={"list_type": "court_dishonest_debtor", **PURPOSE},
            headers=shared,
        ),
    ]
    assert [r.status_code for r in reads] == [200] * 5
    assert reads[1].json()["items"][0]["name"] == PERSON["name"]

    me = {
        "Authorization": (await api.client(["subject:self"], subject_code=person))["Authorization"]
    }
    seen = (await api.http.get(f"/v1/subjects/{person}/queries", headers=me)).json()["items"]
    assert sorted(e["what"] for e in seen) == [
        "list_entries",
        "list_entries",
        "list_entry",
        "subject",
        "subject_search",
    ]
    assert {(e["client_id"], e["level"], e["purpose"]) for e in seen} == {
        (agency["client_id"], "shared", PURPOSE["purpose"])
    }


async def test_a_registrars_change_that_shows_a_person_in_full_is_audited(api: Api) -> None:
    """The registrar's answer to a change (even one that changes nothing) shows the person
    in full: the person sees that read among who queried it, the change as its purpose."""
    registrar = await api.client(["registry:write"])
    writer = {"Authorization": registrar["Authorization"]}
    assert (await api.http.post("/v1/subjects", json=PERSON, headers=writer)).status_code == 201
    person = PERSON["id_number"]
    changed = await api.http.patch(
        f"/v1/subjects/{person}", json={"status": "active", "reason": "核对"}, headers=writer
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == PERSON["name"] and changed.json()["level"] == "restricted"
    await api.gateway.audit.flush()
    me = {
        "Authorization": (await api.client(["subject:self"], subject_code=person))["Authorization"]
    }
    seen = (await api.http.get(f"/v1/subjects/{person}/queries", headers=me)).json()["items"]
    assert [(e["client_id"], e["what"], e["level"]) for e in seen] == [
        (registrar["client_id"], "subject_update", "restricted")
    ]
    assert seen[0]["purpose"] == "subject_update: 核对"


async def test_a_registrars_change_masks_the_identity_numbers_it_did_not_send(api: Api) -> None:
    """A change answered the survivor and the codes merged into it in full: a PATCH that
    changed nothing on a person showed every duplicate merged into it. A registrar sees in
    full the numbers it sent, and all of them if its token allows the restricted level."""
    writer = {"Authorization": (await api.client(["registry:write"]))["Authorization"]}
    duplicate = {**PERSON, "id_number": "330106198810118286"}
    for person in (PERSON, duplicate):
        assert (await api.http.post("/v1/subjects", json=person, headers=writer)).status_code == 201
    survivor, merged = PERSON["id_number"], duplicate["id_number"]
    reply = await api.http.post(
        f"/v1/subjects/{merged}/merge", json={"into": survivor, "reason": "重复"}, headers=writer
    )
    assert reply.status_code == 200, reply.text
    assert (reply.json()["code"], reply.json()["merged_codes"]) == (survivor, [merged])
    by_survivor = await api.http.patch(
        f"/v1/subjects/{survivor}", json={"name": PERSON["name"]}, headers=writer
    )
    assert by_survivor.json()["code"] == survivor
    assert by_survivor.json()["merged_codes"] == ["330106********8286"]
    restricted = await api.client(["registry:write", "credit:restricted"])
    full = await api.http.patch(
        f"/v1/subjects/{survivor}",
        json={"name": PERSON["name"]},
        headers={"Authorization": restricted["Authorization"]},
    )
    assert full.json()["merged_codes"] == [merged]


async def test_a_shared_listing_without_purpose_leaves_out_persons_past_entries(
    lists_api: Api,
) -> None:
    api = lists_api
    person_entry = await listed_person(api)
    org = await register_org(api, "名单隐私测试有限公司")
    court = await headers(api, ["lists:write"], "court")
    org_entry = (
        await api.http.post(
            "/v1/list-entries", json=entry(org, "court_dishonest_debtor"), headers=court
        )
    ).json()["entry_id"]
    for entry_id in (person_entry, org_entry):
        removed = await api.http.post(
            f"/v1/list-entries/{entry_id}/remove", json={"reason": "已履行全部义务"}, headers=court
        )
        assert removed.status_code == 200, removed.text
    shared = await headers(api, ["credit:shared"], "finance")

    blind = await api.http.get("/v1/list-entries", params={"state": "removed"}, headers=shared)
    assert blind.status_code == 200 and blind.json()["level"] == "shared"
    assert [e["entry_id"] for e in blind.json()["items"]] == [org_entry]
    everything = (await api.http.get("/v1/list-entries", headers=shared)).json()["items"]
    assert [e["entry_id"] for e in everything] == [org_entry]

    stated = await api.http.get(
        "/v1/list-entries", params={"state": "removed", **PURPOSE}, headers=shared
    )
    shown = {e["entry_id"]: e for e in stated.json()["items"]}
    assert set(shown) == {person_entry, org_entry}
    assert shown[person_entry]["level"] == "shared"
    assert shown[person_entry]["subject_name"] == PERSON["name"]


async def person_and_writers(
    api: Api, scope: str, department: str
) -> tuple[str, dict[str, str], dict[str, str]]:
    """PERSON registered; its identity number, and two writers of the department with
    `scope`: one without and one with the restricted level."""
    registrar = await headers(api, ["registry:write"])
    assert (await api.http.post("/v1/subjects", json=PERSON, headers=registrar)).status_code == 201
    plain = await headers(api, [scope], department)
    full = await headers(api, [scope, "credit:restricted"], department)
    return PERSON["id_number"], plain, full


async def listed_and_removed(
    api: Api, code: str, court: dict[str, str]
) -> tuple[httpx.Response, httpx.Response]:
    """The court's answers to listing the subject as a dishonest debtor and removing it."""
    proposed = await api.http.post(
        "/v1/list-entries", json=entry(code, "court_dishonest_debtor"), headers=court
    )
    assert proposed.status_code == 201, proposed.text
    removed = await api.http.post(
        f"/v1/list-entries/{proposed.json()['entry_id']}/remove",
        json={"reason": "已履行全部义务"},
        headers=court,
    )
    assert removed.status_code == 200, removed.text
    return proposed, removed


async def test_a_persons_entry_is_answered_to_its_writer_masked_unless_it_may_see_restricted(
    lists_api: Api,
) -> None:
    """A removal names only the entry: a lists:write token got the person's identity
    number and name in full, which a read by the same client needs a purpose for and only
    the restricted level shows."""
    api = lists_api
    person, court, full_court = await person_and_writers(api, "lists:write", "court")
    answers = [await listed_and_removed(api, person, writer) for writer in (court, full_court)]
    for reply in answers[0]:
        shown = reply.json()
        assert person not in reply.text and PERSON["name"] not in reply.text
        assert shown["subject_code"] == person[:6] + "*" * 8 + person[-4:]
        assert shown["subject_name"] == PERSON["name"][0] + "*" * (len(PERSON["name"]) - 1)
        assert shown["level"] == "public" and reply.headers.get("cache-control") != "no-store"
    for reply in answers[1]:
        shown = reply.json()
        assert shown["subject_code"] == person and shown["subject_name"] == PERSON["name"]
        assert shown["level"] == "restricted" and reply.headers["cache-control"] == "no-store"


async def test_a_persons_record_is_answered_to_its_writer_masked_unless_it_may_see_restricted(
    records_api: Api,
) -> None:
    """A correction or a withdrawal names only the record: a records:write token got the
    person's identity number in full, which identity numbers show only at the restricted
    level. The fields are the writer's own and are shown in full either way."""
    api = records_api
    person, market, full_market = await person_and_writers(
        api, "records:write", "market_regulation"
    )
    answers = []
    for n, writer in enumerate((market, full_market)):
        body = penalty_body(person, f"沪监罚〔2026〕9{n}号")
        submitted = await api.http.post("/v1/records", json=body, headers=writer)
        assert submitted.status_code == 201, submitted.text
        record_id = submitted.json()["record_id"]
        corrected = await api.http.post(
            f"/v1/records/{record_id}/correct",
            json={"fields": {**body["fields"], "fine_amount": 2.0}, "reason": "金额笔误"},
            headers=writer,
        )
        assert corrected.status_code == 200, corrected.text
        withdrawn = await api.http.post(
            f"/v1/records/{record_id}/withdraw", json={"reason": "主体认定错误"}, headers=writer
        )
        assert withdrawn.status_code == 200, withdrawn.text
        answers.append((submitted, corrected, withdrawn))
    for reply in answers[0]:
        shown = reply.json()
        assert person not in reply.text
        assert shown["subject_code"] == person[:6] + "*" * 8 + person[-4:]
        assert shown["fields"]["violation_type"] == "超范围经营"
        assert shown["level"] == "public" and reply.headers.get("cache-control") != "no-store"
    for reply in answers[1]:
        shown = reply.json()
        assert shown["subject_code"] == person
        assert shown["level"] == "restricted" and reply.headers["cache-control"] == "no-store"


async def test_a_subjects_own_client_lists_its_entries_as_it_sees_its_status(
    lists_api: Api,
) -> None:
    """A listing of one subject's entries by its own client is served at the restricted
    level, as its own status is (it was served at the token's level, public: past entries
    left out and its own name masked), or at the level it asks for."""
    api = lists_api
    person, court, _ = await person_and_writers(api, "lists:write", "court")
    await listed_and_removed(api, person, court)
    me = {
        "Authorization": (await api.client(["subject:self"], subject_code=person))["Authorization"]
    }
    own = await api.http.get("/v1/list-entries", params={"subject_code": person}, headers=me)
    assert own.status_code == 200, own.text
    assert own.json()["level"] == "restricted" and own.headers["cache-control"] == "no-store"
    [shown] = own.json()["items"]
    assert shown["state"] == "removed" and shown["subject_code"] == person
    assert shown["subject_name"] == PERSON["name"]
    # So is the entry read by its id (it was a 404: past entries are not public).
    by_id = await api.http.get(f"/v1/list-entries/{shown['entry_id']}", headers=me)
    assert by_id.status_code == 200 and by_id.json()["level"] == "restricted", by_id.text
    assert (await api.http.get(f"/v1/list-entries/{shown['entry_id']}")).status_code == 404
    asked = await api.http.get(
        "/v1/list-entries", params={"subject_code": person, "level": "public"}, headers=me
    )
    assert asked.status_code == 200 and asked.json() == {
        "items": [],
        "next_page_token": None,
        "level": "public",
    }


async def test_a_subject_reads_its_own_records_and_entries_by_id_but_not_anothers_past_ones(
    lists_api: Api,
) -> None:
    """A subject's own client reads its record that is not public by id, at the restricted
    level without asking (it was a 404); another subject's such record or past entry is not
    there to it, whatever level it asks for: a 404, as for an id nobody has (it was a 403,
    which told that one exists)."""
    api = lists_api
    market = await headers(api, ["records:write"], "market_regulation")
    court = await headers(api, ["lists:write"], "court")
    mine, theirs = (
        await register_org(api, "自查甲有限公司"),
        await register_org(api, "他人乙有限公司"),
    )
    me = {"Authorization": (await api.client(["subject:self"], subject_code=mine))["Authorization"]}
    my_record = await commitment(api, mine, market)
    for path in (f"/v1/records/{my_record}", f"/v1/records/{my_record}/versions"):
        own = await api.http.get(path, headers=me)
        assert own.status_code == 200 and own.json()["level"] == "restricted", own.text
    their_record = await commitment(api, theirs, market, "沪监诺〔2026〕4号")
    _, removed = await listed_and_removed(api, theirs, court)
    their_entry = removed.json()["entry_id"]
    for path in (f"/v1/records/{their_record}", f"/v1/list-entries/{their_entry}"):
        for level in ("public", "shared", "restricted"):
            reply = await api.http.get(path, params={"level": level}, headers=me)
            assert reply.status_code == 404, (path, level, reply.text)
    nobody = f"/v1/records/{uuid.uuid4()}"
    assert (
        await api.http.get(nobody, params={"level": "restricted"}, headers=me)
    ).status_code == 404
