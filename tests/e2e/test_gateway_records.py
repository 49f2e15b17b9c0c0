"""Records through the gateway, with real registry and records processes."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from credit_records.domain.publicity import add_months
from e2e.conftest import Api
from support.processes import ServiceProcess

ORG = {
    "kind": "organization",
    "name": "网关记录测试有限公司",
    "registration_authority": "9",
    "org_category": "1",
    "division_code": "310115",
}


def penalty_body(code: str, ref: str = "沪监罚〔2026〕7号", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "violation_type": "超范围经营",
        "violation_facts": "超出核准登记的经营范围从事经营活动",
        "legal_basis": "《市场主体登记管理条例》第四十六条",
        "penalty_kinds": ["fine"],
        "penalty_content": "罚款人民币1万元",
        "fine_amount": 1.0,
        "severity": "general",
        "deciding_authority": "上海市浦东新区市场监督管理局",
    }
    body.update(fields)
    decided = (dt.date.today() - dt.timedelta(days=2)).isoformat()
    return {
        "subject_code": code,
        "item_code": "admin_penalty",
        "source_ref": ref,
        "decided_on": decided,
        "fields": body,
    }


async def setup(api: Api) -> tuple[str, dict[str, str], dict[str, str]]:
    registrar = {"Authorization": (await api.client(["registry:write"]))["Authorization"]}
    code = (await api.http.post("/v1/subjects", json=ORG, headers=registrar)).json()["code"]
    market = {
        "Authorization": (await api.client(["records:write"], department="market_regulation"))[
            "Authorization"
        ]
    }
    tax = {
        "Authorization": (await api.client(["records:write"], department="tax"))["Authorization"]
    }
    return code, market, tax


async def test_a_record_is_submitted_read_corrected_and_withdrawn(records_api: Api) -> None:
    api = records_api
    code, market, tax = await setup(api)
    reply = await api.http.post("/v1/records", json=penalty_body(code), headers=market)
    assert reply.status_code == 201, reply.text
    record = reply.json()
    assert record["status"] == "active" and record["version"] == 1 and record["publicly_visible"]
    again = await api.http.post("/v1/records", json=penalty_body(code), headers=market)
    assert again.status_code == 200 and again.json()["record_id"] == record["record_id"]
    clash = await api.http.post(
        "/v1/records", json=penalty_body(code, fine_amount=2.0), headers=market
    )
    assert clash.status_code == 409 and clash.json()["code"] == "duplicate_source_ref"

    public = await api.http.get(f"/v1/subjects/{code}/records")
    assert public.json()["level"] == "public" and [
        r["record_id"] for r in public.json()["items"]
    ] == [record["record_id"]]

    denied = await api.http.post(
        f"/v1/records/{record['record_id']}/correct",
        headers=tax,
        json={"fields": penalty_body(code)["fields"], "reason": "x"},
    )
    assert denied.status_code == 403 and denied.json()["code"] == "department_mismatch"
    corrected = await api.http.post(
        f"/v1/records/{record['record_id']}/correct",
        headers=market,
        json={"fields": penalty_body(code, fine_amount=1.5)["fields"], "reason": "金额笔误"},
    )
    assert corrected.status_code == 200 and corrected.json()["status"] == "corrected"
    retried = await api.http.post(  # as a client does after a timeout: no second version
        f"/v1/records/{record['record_id']}/correct",
        headers=market,
        json={"fields": penalty_body(code, fine_amount=1.5)["fields"], "reason": "金额笔误"},
    )
    assert retried.status_code == 200 and retried.json()["version"] == 2
    versions = (await api.http.get(f"/v1/records/{record['record_id']}/versions")).json()[
        "versions"
    ]
    assert [v["fields"]["fine_amount"] for v in versions] == [1.0, 1.5]

    withdrawn = await api.http.post(
        f"/v1/records/{record['record_id']}/withdraw", headers=market, json={"reason": "撤销"}
    )
    assert withdrawn.json()["status"] == "withdrawn"
    assert (await api.http.get(f"/v1/subjects/{code}/records")).json()["items"] == []
    gone = await api.http.get(f"/v1/records/{record['record_id']}")
    assert gone.status_code == 404
    again = await api.http.post(
        f"/v1/records/{record['record_id']}/withdraw", headers=market, json={"reason": "再撤"}
    )
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"


async def test_a_withdrawal_done_is_answered_though_the_registry_is_away_after_it(
    records_api: Api, registry_process: ServiceProcess
) -> None:
    """The record is withdrawn: a 503 would make the caller's retry a 409
    invalid_transition. The answer shows the subject by the records service's key instead:
    an organisation's code, nothing of a person's identity number."""
    api = records_api
    code, market, _ = await setup(api)
    registrar = {"Authorization": (await api.client(["registry:write"]))["Authorization"]}
    person = {"kind": "natural_person", "name": "王五", "id_number": "110101199003077774"}
    assert (await api.http.post("/v1/subjects", json=person, headers=registrar)).status_code == 201
    stored = [
        (await api.http.post("/v1/records", json=penalty_body(subject, ref), headers=market)).json()
        for subject, ref in (
            (code, "沪监罚〔2026〕31号"),
            (person["id_number"], "沪监罚〔2026〕32号"),
        )
    ]
    registry_process.stop()
    answers = [
        await api.http.post(
            f"/v1/records/{r['record_id']}/withdraw", headers=market, json={"reason": "撤销"}
        )
        for r in stored
    ]
    assert [a.status_code for a in answers] == [200, 200], answers[1].text
    assert [a.json()["status"] for a in answers] == ["withdrawn", "withdrawn"]
    assert [a.json()["subject_code"] for a in answers] == [code, ""]


async def test_versions_state_the_level_they_were_served_at(records_api: Api) -> None:
    api = records_api
    code, market, _ = await setup(api)
    stored = await api.http.post("/v1/records", json=penalty_body(code), headers=market)
    versions = f"/v1/records/{stored.json()['record_id']}/versions"
    shared = {"Authorization": (await api.client(["credit:shared"]))["Authorization"]}
    public, seen = await api.http.get(versions), await api.http.get(versions, headers=shared)
    assert public.status_code == seen.status_code == 200, seen.text
    assert public.json()["level"] == "public" and seen.json()["level"] == "shared"


async def test_as_of_through_the_gateway(records_api: Api) -> None:
    api = records_api
    code, market, _ = await setup(api)
    before = dt.datetime.now(dt.UTC)
    record = (await api.http.post("/v1/records", json=penalty_body(code), headers=market)).json()
    await api.http.post(
        f"/v1/records/{record['record_id']}/withdraw", headers=market, json={"reason": "撤销"}
    )
    between = record["submitted_at"]
    then = await api.http.get(f"/v1/subjects/{code}/records", params={"as_of": between})
    assert [r["record_id"] for r in then.json()["items"]] == [record["record_id"]]
    earlier = await api.http.get(
        f"/v1/subjects/{code}/records", params={"as_of": before.isoformat()}
    )
    assert earlier.json()["items"] == []
    naive = await api.http.get(
        f"/v1/subjects/{code}/records", params={"as_of": "2026-01-01T00:00:00"}
    )
    assert naive.status_code == 422


async def test_as_of_before_a_correction_shows_the_window_the_record_had(
    records_api: Api,
) -> None:
    api = records_api
    code, market, _ = await setup(api)
    record = (
        await api.http.post(
            "/v1/records", json=penalty_body(code, "沪监罚〔2026〕8号"), headers=market
        )
    ).json()
    assert record["publicly_visible"]
    corrected = await api.http.post(
        f"/v1/records/{record['record_id']}/correct",
        headers=market,
        json={"fields": penalty_body(code, severity="minor")["fields"], "reason": "轻微"},
    )
    assert corrected.status_code == 200 and not corrected.json()["publicly_visible"]
    now = await api.http.get(f"/v1/subjects/{code}/records")
    assert now.json()["items"] == []
    then = await api.http.get(
        f"/v1/subjects/{code}/records", params={"as_of": record["submitted_at"]}
    )
    [seen] = then.json()["items"]
    assert seen["version"] == 1 and seen["severity"] == "general", seen
    assert seen["publicity_until"] == record["publicity_until"]


async def test_a_persons_negative_record_leaves_the_shared_level_five_years_on(
    records_api: Api,
) -> None:
    """征信业管理条例 art. 16: kept 5 years after the conduct ends, then only `restricted`."""
    api = records_api
    _, market, _ = await setup(api)
    registrar = {"Authorization": (await api.client(["registry:write"]))["Authorization"]}
    person = {"kind": "natural_person", "name": "王五", "id_number": "110101199003077774"}
    added = await api.http.post("/v1/subjects", json=person, headers=registrar)
    assert added.status_code == 201, added.text
    number = person["id_number"]
    decided = dt.date.today() - dt.timedelta(days=5 * 366)
    old = {**penalty_body(number, "沪监罚〔2020〕1号"), "decided_on": decided.isoformat()}
    stored = await api.http.post("/v1/records", json=old, headers=market)
    assert stored.status_code == 201, stored.text
    fifth = add_months(decided, 60)
    assert stored.json()["retention_until"] == fifth.isoformat()
    recent = await api.http.post(
        "/v1/records", json=penalty_body(number, "沪监罚〔2026〕9号"), headers=market
    )
    assert recent.status_code == 201, recent.text

    async def seen(scopes: list[str]) -> list[tuple[str, str]]:
        token = {"Authorization": (await api.client(scopes))["Authorization"]}
        reply = await api.http.get(
            f"/v1/subjects/{number}/records", headers=token, params={"purpose": "信用核查"}
        )
        assert reply.status_code == 200, reply.text
        return sorted((r["source_ref"], r["status"]) for r in reply.json()["items"])

    assert await seen(["credit:shared"]) == [("沪监罚〔2026〕9号", "active")]
    assert await seen(["credit:restricted"]) == [
        ("沪监罚〔2020〕1号", "expired"),
        ("沪监罚〔2026〕9号", "active"),
    ]


async def test_a_tax_grade_is_positive_for_a_negative_for_d_and_neutral_between(
    records_api: Api,
) -> None:
    api = records_api
    code, _, tax = await setup(api)
    natures = {}
    for grade in ("A", "B", "D"):
        body = {
            "subject_code": code,
            "item_code": "tax_credit_grade",
            "source_ref": f"2025-{grade}",
            "decided_on": (dt.date.today() - dt.timedelta(days=3)).isoformat(),
            "fields": {
                "grade": grade,
                "year": 2025,
                "evaluating_authority": "国家税务总局上海市税务局",
            },
        }
        reply = await api.http.post("/v1/records", json=body, headers=tax)
        assert reply.status_code == 201, reply.text
        natures[grade] = reply.json()["nature"]
    assert natures == {"A": "positive", "B": "neutral", "D": "negative"}
    items = {i["item_code"]: i for i in (await api.http.get("/v1/catalog/items")).json()["items"]}
    assert items["tax_credit_grade"]["nature_by_value"] == {
        "field": "grade",
        "values": {"A": "positive", "D": "negative"},
    }
    assert items["admin_penalty"]["nature_by_value"] is None


async def test_bad_records_get_problem_documents_and_nothing_is_stored(records_api: Api) -> None:
    api = records_api
    code, market, _ = await setup(api)
    future = penalty_body(code, severity="enormous")
    future["decided_on"] = (dt.date.today() + dt.timedelta(days=5)).isoformat()
    del future["fields"]["legal_basis"]
    cases = [
        (penalty_body("91310115MA8BRK2A83"), 422, "unknown_subject"),
        (penalty_body("91310115MA8BRK2A84"), 422, "invalid_code"),  # its check character
        (penalty_body("91310115ma8brk2a84"), 422, "invalid_code"),  # in lower case too
        ({**penalty_body(code), "item_code": "nope"}, 422, "unknown_item"),
        ({**penalty_body(code), "item_code": "court_dishonest"}, 403, "department_mismatch"),
        (future, 422, "validation_failed"),
        ({**penalty_body(code), "extra": 1}, 422, "validation_failed"),
    ]
    for body, status, problem in cases:
        reply = await api.http.post("/v1/records", json=body, headers=market)
        assert reply.status_code == status and reply.json()["code"] == problem, (
            problem,
            reply.text,
        )
    fields = {
        e["field"]
        for e in (await api.http.post("/v1/records", json=future, headers=market)).json()["errors"]
    }
    assert {"decided_on", "fields.legal_basis", "fields.severity"} <= fields
    restricted = {"Authorization": (await api.client(["credit:restricted"]))["Authorization"]}
    assert (await api.http.get(f"/v1/subjects/{code}/records", headers=restricted)).json()[
        "items"
    ] == []


async def test_the_catalog_is_public_and_admins_add_items(records_api: Api) -> None:
    api = records_api
    items = (await api.http.get("/v1/catalog/items")).json()["items"]
    assert "admin_penalty" in {i["item_code"] for i in items}
    body = {
        "item_code": "green_award",
        "name": "绿色企业",
        "category": "信用评价结果",
        "nature": "positive",
        "disclosure": "public",
        "source_departments": ["ecology_environment"],
        "publicity_days": 365,
        "min_publicity_days": 90,
        "retention_days": 1826,
        "repairable": False,
        "fields": {
            "type": "object",
            "required": ["level"],
            "properties": {"level": {"type": "string"}},
        },
    }
    reply = await api.http.post("/v1/catalog/items", json=body, headers=await api.admin_headers())
    assert reply.status_code == 201 and reply.json()["schema_version"] == 1
    reply = await api.http.post("/v1/catalog/items", json=body, headers=await api.admin_headers())
    assert reply.json()["schema_version"] == 2
    bad = await api.http.post(
        "/v1/catalog/items",
        headers=await api.admin_headers(),
        json={**body, "fields": {"type": "object", "properties": {"x": {"type": 7}}}},
    )
    assert bad.status_code == 422


LICENCE = {
    "license_category": "general",
    "content": "食品经营许可",
    "valid_from": "2026-01-01",
    "valid_until": "9999-12-31",
    "licensing_authority": "上海市浦东新区市场监督管理局",
}


async def test_a_licence_valid_until_9999_12_31_is_kept_for_good(records_api: Api) -> None:
    """长期有效 licences say 9999-12-31: retention counted from it ends on the last day
    there is (it used to overflow into a 500 on submission and on correction)."""
    api = records_api
    code, market, _ = await setup(api)
    body = {
        "subject_code": code,
        "item_code": "admin_license",
        "source_ref": "沪市监许〔2026〕1号",
        "decided_on": (dt.date.today() - dt.timedelta(days=2)).isoformat(),
        "fields": LICENCE,
    }
    reply = await api.http.post("/v1/records", json=body, headers=market)
    assert reply.status_code == 201, reply.text
    record = reply.json()
    assert (record["publicity_until"], record["retention_until"]) == ("9999-12-31", "9999-12-31")
    corrected = await api.http.post(
        f"/v1/records/{record['record_id']}/correct",
        headers=market,
        json={"fields": {**LICENCE, "valid_until": "9998-01-01"}, "reason": "有效期笔误"},
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["publicity_until"] == "9998-01-01"
    assert corrected.json()["retention_until"] == "9999-12-31"


async def test_catalog_windows_past_a_hundred_years_are_refused(records_api: Api) -> None:
    """2^31 days or a million months was accepted, and then every record of the item was
    a 500 (the window's date arithmetic overflowed)."""
    api = records_api
    body = {
        "item_code": "endless_award",
        "name": "无尽奖",
        "category": "信用评价结果",
        "nature": "positive",
        "disclosure": "public",
        "source_departments": ["market_regulation"],
        "fields": {"type": "object", "properties": {"level": {"type": "string"}}},
    }
    rules = [
        ({"kind": "fixed", "days": 2_147_483_647}, "publicity_days"),
        ({"kind": "fixed", "months": 1_000_000}, "publicity.months"),
        (
            {
                "kind": "by_severity",
                "by_severity": {"serious": {"publish": True, "max_months": 10**6}},
            },
            "publicity.by_severity.serious",
        ),
        ({"kind": "fixed", "days": float("inf")}, None),
    ]
    for rule, field in rules:
        reply = await api.http.post(
            "/v1/catalog/items",
            content=json.dumps({**body, "publicity": rule}),  # Infinity as Python writes it
            headers={**(await api.admin_headers()), "content-type": "application/json"},
        )
        assert reply.status_code == 422, reply.text
        if field is not None:
            assert [e["field"] for e in reply.json()["errors"]] == [field]
    items = (await api.http.get("/v1/catalog/items")).json()["items"]
    assert "endless_award" not in {i["item_code"] for i in items}


async def test_a_field_until_rule_must_name_a_property_of_the_fields(records_api: Api) -> None:
    """until_field valid_till with a property valid_until was accepted, and every record of
    the item was then public without end (publicity_until null)."""
    api = records_api
    admin = await api.admin_headers()
    body = {
        "item_code": "typo_licence",
        "name": "许可笔误",
        "category": "行政管理信息",
        "nature": "positive",
        "disclosure": "public",
        "source_departments": ["market_regulation"],
        "publicity": {"kind": "field_until", "until_field": "valid_till"},
        "fields": {
            "type": "object",
            "properties": {"content": {"type": "string"}, "valid_until": {"type": "string"}},
        },
    }
    reply = await api.http.post("/v1/catalog/items", json=body, headers=admin)
    assert reply.status_code == 422, reply.text
    errors = reply.json()["errors"]
    assert [e["field"] for e in errors] == ["publicity.until_field"]
    assert "valid_till" in errors[0]["message"] and "content, valid_until" in errors[0]["message"]
    items = (await api.http.get("/v1/catalog/items")).json()["items"]
    assert "typo_licence" not in {i["item_code"] for i in items}
    fixed = {**body, "publicity": {"kind": "field_until", "until_field": "valid_until"}}
    reply = await api.http.post("/v1/catalog/items", json=fixed, headers=admin)
    assert reply.status_code == 201, reply.text
    # A schema that may let properties in by other keywords cannot tell: taken.
    composed = {
        **body,
        "item_code": "composed_licence",
        "fields": {
            "type": "object",
            "properties": {"content": {"type": "string"}},
            "allOf": [{"properties": {"valid_till": {"type": "string"}}}],
        },
    }
    reply = await api.http.post("/v1/catalog/items", json=composed, headers=admin)
    assert reply.status_code == 201, reply.text


async def test_a_severity_longer_than_records_keep_is_refused_by_name(records_api: Api) -> None:
    """A record keeps its severity (it chooses a by_severity window) in 16 characters. An
    item whose schema let a longer one through stored it on SQLite and was a 500, later
    an unnamed `invalid_value`, on PostgreSQL; a catalog rule naming a longer one could
    never be met."""
    api = records_api
    code, market, _ = await setup(api)
    admin = await api.admin_headers()
    body = {
        "item_code": "quality_notice",
        "name": "质量抽检通报",
        "category": "行政检查",
        "nature": "negative",
        "disclosure": "public",
        "source_departments": ["market_regulation"],
        "fields": {"type": "object", "properties": {"severity": {"type": "string"}}},
    }
    long_rule = {
        "kind": "by_severity",
        "by_severity": {"情节特别严重且造成社会影响特别恶劣的": {"max_months": 12}},
    }
    reply = await api.http.post(
        "/v1/catalog/items", json={**body, "publicity": long_rule}, headers=admin
    )
    assert reply.status_code == 422, reply.text
    assert [e["field"] for e in reply.json()["errors"]] == [
        "publicity.by_severity.情节特别严重且造成社会影响特别恶劣的"
    ]
    unnamed = {"kind": "by_severity", "by_severity": {"": {"publish": True, "max_months": 6}}}
    reply = await api.http.post(
        "/v1/catalog/items",
        json={**body, "item_code": "unrated_notice", "publicity": unnamed},
        headers=admin,
    )
    assert reply.status_code == 201, reply.text  # the window of records without a severity
    reply = await api.http.post("/v1/catalog/items", json=body, headers=admin)
    assert reply.status_code == 201, reply.text
    decided = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    record = {"subject_code": code, "item_code": "quality_notice", "decided_on": decided}
    too_long = "情节严重，社会影响恶劣，依法从重处罚"
    reply = await api.http.post(
        "/v1/records",
        json={**record, "source_ref": "抽检1", "fields": {"severity": too_long}},
        headers=market,
    )
    assert reply.status_code == 422, reply.text
    assert [e["field"] for e in reply.json()["errors"]] == ["fields.severity"]
    reply = await api.http.post(
        "/v1/records",
        json={**record, "source_ref": "抽检2", "fields": {"severity": too_long[:16]}},
        headers=market,
    )
    assert reply.status_code == 201, reply.text
    corrected = await api.http.post(
        f"/v1/records/{reply.json()['record_id']}/correct",
        json={"fields": {"severity": too_long}, "reason": "笔误"},
        headers=market,
    )
    assert corrected.status_code == 422, corrected.text
    assert [e["field"] for e in corrected.json()["errors"]] == ["fields.severity"]


async def test_an_item_read_from_the_catalog_and_sent_back_keeps_its_windows(
    records_api: Api,
) -> None:
    """The catalog answered a severity window's months as `minMonths`/`maxMonths` and read
    only `min_months`/`max_months`, dropping any other name: an item sent back as it was
    read became a new version whose windows were all 0 months."""
    api = records_api
    admin = await api.admin_headers()
    items = (await api.http.get("/v1/catalog/items")).json()["items"]
    penalty = next(i for i in items if i["item_code"] == "admin_penalty")
    serious = penalty["publicity"]["by_severity"]["serious"]
    assert serious == {"publish": True, "min_months": 12, "max_months": 36}
    sent = {k: v for k, v in penalty.items() if k not in ("schema_version",)}
    reply = await api.http.post("/v1/catalog/items", json=sent, headers=admin)
    assert reply.status_code == 201, reply.text
    assert reply.json()["schema_version"] == penalty["schema_version"] + 1
    assert reply.json()["publicity"] == penalty["publicity"]
    camel = {**serious, "maxMonths": 36}
    wrong = {**sent, "publicity": {"kind": "by_severity", "by_severity": {"serious": camel}}}
    reply = await api.http.post("/v1/catalog/items", json=wrong, headers=admin)
    assert reply.status_code == 422, reply.text
    assert [e["field"] for e in reply.json()["errors"]] == [
        "publicity.by_severity.serious.maxMonths"
    ]


async def test_publicity_days_and_a_publicity_rule_given_together_must_agree(
    records_api: Api,
) -> None:
    """publicity_days replaced a publicity rule sent with it: its min_days, months and
    windows were dropped without a word. The catalog answers publicity_days and
    min_publicity_days too (API.md), so an item read and sent back changes nothing."""
    api = records_api
    admin = await api.admin_headers()
    body = {
        "item_code": "green_award",
        "name": "绿色企业",
        "category": "信用评价结果",
        "nature": "positive",
        "disclosure": "public",
        "source_departments": ["ecology_environment"],
        "fields": {"type": "object", "properties": {"level": {"type": "string"}}},
    }
    merged = {**body, "publicity_days": 365, "publicity": {"kind": "fixed", "min_days": 90}}
    reply = await api.http.post("/v1/catalog/items", json=merged, headers=admin)
    assert reply.status_code == 201, reply.text
    item = reply.json()
    assert (item["publicity_days"], item["min_publicity_days"]) == (365, 90)
    assert (item["publicity"]["days"], item["publicity"]["min_days"]) == (365, 90)
    sent_back = {k: v for k, v in item.items() if k != "schema_version"}
    again = await api.http.post("/v1/catalog/items", json=sent_back, headers=admin)
    assert again.status_code == 201, again.text
    assert {k: v for k, v in again.json().items() if k != "schema_version"} == sent_back
    for clash, field in (
        ({"publicity_days": 180}, "publicity.days"),
        ({"min_publicity_days": 30}, "publicity.min_days"),
        (
            {"publicity_days": 365, "publicity": {**item["publicity"], "months": 12}},
            "publicity.months",
        ),
    ):
        reply = await api.http.post("/v1/catalog/items", json={**sent_back, **clash}, headers=admin)
        assert reply.status_code == 422, reply.text
        assert [e["field"] for e in reply.json()["errors"]] == [field]
    shipped = (await api.http.get("/v1/catalog/items")).json()["items"]
    penalty = next(i for i in shipped if i["item_code"] == "admin_penalty")
    assert penalty["publicity_days"] is None and penalty["min_publicity_days"] == 0
    both = {**body, "publicity": {"kind": "fixed", "months": 12, "days": 30}}
    reply = await api.http.post("/v1/catalog/items", json=both, headers=admin)
    assert reply.status_code == 422, reply.text  # the days were kept and never used
    assert [e["field"] for e in reply.json()["errors"]] == ["publicity.days"]


async def test_a_catalog_item_names_known_departments_and_a_minimum_within_its_publicity(
    records_api: Api,
) -> None:
    """A source department no client can belong to was stored (no one could ever write the
    item's records), and so was a minimum before repair longer than the publicity."""
    api = records_api
    admin = await api.admin_headers()
    body = {
        "item_code": "sports_notice",
        "name": "体育通报",
        "category": "行政管理信息",
        "nature": "negative",
        "disclosure": "public",
        "source_departments": ["market_regulation", "sports"],
        "publicity_days": 30,
        "fields": {"type": "object", "properties": {"content": {"type": "string"}}},
    }
    reply = await api.http.post("/v1/catalog/items", json=body, headers=admin)
    assert reply.status_code == 422, reply.text
    assert [e["field"] for e in reply.json()["errors"]] == ["source_departments.1"]
    assert "'sports'" in reply.text and "market_regulation" in reply.text
    too_long = {**body, "source_departments": ["*"], "min_publicity_days": 100}
    reply = await api.http.post("/v1/catalog/items", json=too_long, headers=admin)
    assert reply.status_code == 422, reply.text
    assert [e["field"] for e in reply.json()["errors"]] == ["min_publicity_days"]
    items = (await api.http.get("/v1/catalog/items")).json()["items"]
    assert "sports_notice" not in {i["item_code"] for i in items}
    # Repair is possible from the day after the minimum: one as long as the publicity would
    # come after it has ended by itself.
    as_long = {**too_long, "min_publicity_days": 30}
    reply = await api.http.post("/v1/catalog/items", json=as_long, headers=admin)
    assert reply.status_code == 422, reply.text
    fine = {**too_long, "min_publicity_days": 29}
    assert (await api.http.post("/v1/catalog/items", json=fine, headers=admin)).status_code == 201


async def test_an_identity_number_typed_into_a_records_text_is_masked_below_restricted(
    records_api: Api,
) -> None:
    """A department naming a person in a company's penalty (违法事实) showed the person's
    identity number in full to anyone, in the record and in its versions."""
    api = records_api
    code, market, _ = await setup(api)
    facts = "法定代表人王某（身份证110105199001011486）指使员工超范围经营"
    reply = await api.http.post(
        "/v1/records", json=penalty_body(code, violation_facts=facts), headers=market
    )
    assert reply.status_code == 201, reply.text
    record_id = reply.json()["record_id"]
    masked = "法定代表人王某（身份证110105********1486）指使员工超范围经营"
    public = (await api.http.get(f"/v1/records/{record_id}")).json()
    assert public["level"] == "public" and public["fields"]["violation_facts"] == masked
    versions = (await api.http.get(f"/v1/records/{record_id}/versions")).json()
    assert versions["versions"][0]["fields"]["violation_facts"] == masked
    listed = (await api.http.get(f"/v1/subjects/{code}/records")).json()["items"]
    assert [r["fields"]["violation_facts"] for r in listed] == [masked]
    restricted = {"Authorization": (await api.client(["credit:restricted"]))["Authorization"]}
    full = await api.http.get(
        f"/v1/records/{record_id}", params={"level": "restricted"}, headers=restricted
    )
    assert full.status_code == 200, full.text
    assert full.json()["fields"]["violation_facts"] == facts


async def test_a_writer_sees_the_fields_it_wrote_in_full_about_a_person_too(
    records_api: Api,
) -> None:
    """A write answer shows the record's fields as written (the writer's own), also where
    the token shows the person's code masked: the masking of identity numbers in texts is
    for readers below restricted."""
    api = records_api
    _, market, _ = await setup(api)
    registrar = {"Authorization": (await api.client(["registry:write"]))["Authorization"]}
    person = {"kind": "natural_person", "name": "赵七", "id_number": "110105199001011486"}
    assert (await api.http.post("/v1/subjects", json=person, headers=registrar)).status_code == 201
    facts = "当事人赵某（身份证110105199001011486）无证经营"
    reply = await api.http.post(
        "/v1/records",
        json=penalty_body(person["id_number"], ref="沪监罚〔2026〕77号", violation_facts=facts),
        headers=market,
    )
    assert reply.status_code == 201, reply.text
    written = reply.json()
    assert written["level"] == "public" and written["subject_code"] == "110105********1486"
    assert written["fields"]["violation_facts"] == facts
    public = (await api.http.get(f"/v1/records/{written['record_id']}")).json()
    assert public["fields"]["violation_facts"] == "当事人赵某（身份证110105********1486）无证经营"


async def test_a_record_sent_on_its_own_and_in_a_bulk_upload_is_the_same_content(
    records_api: Api,
) -> None:
    """A single submission reads its fields as a bulk upload reads an NDJSON line's: text
    stripped, empty values left out, national codes and Chinese names and amounts and
    penalty kinds as text all understood. The same record sent both ways is unchanged,
    not a 409, whichever way came first; a correction sending what is stored, padded, adds
    no version."""
    api = records_api
    code, market, _ = await setup(api)
    padded = penalty_body(code, "沪监罚〔2026〕88号")
    padded["fields"] |= {
        "violation_type": "  超范围经营 ",
        "penalty_kinds": "罚款",
        "fine_amount": "1",
        "confiscated_amount": "",
    }
    padded["fields"]["CF_SY"] = padded["fields"].pop("violation_facts")  # a national code
    first = await api.http.post("/v1/records", json=padded, headers=market)
    assert first.status_code == 201, first.text
    stored = first.json()["fields"]
    assert stored["violation_type"] == "超范围经营" and stored["penalty_kinds"] == ["fine"]
    assert stored["fine_amount"] == 1 and "confiscated_amount" not in stored
    assert stored["violation_facts"] == "超出核准登记的经营范围从事经营活动"

    plain = penalty_body(code, "沪监罚〔2026〕88号")
    lines = [json.dumps(plain, ensure_ascii=False), json.dumps(padded, ensure_ascii=False)]
    bulk = await api.http.post(
        "/v1/records/bulk",
        params={"item_code": "admin_penalty"},
        content="\n".join(lines).encode(),
        headers={**market, "content-type": "application/x-ndjson"},
    )
    assert bulk.status_code == 200, bulk.text
    assert (bulk.json()["accepted"], bulk.json()["unchanged"], bulk.json()["rejected"]) == (
        0,
        2,
        [],
    )
    again = await api.http.post("/v1/records", json=padded, headers=market)
    assert again.status_code == 200 and again.json()["record_id"] == first.json()["record_id"]
    same = await api.http.post(
        f"/v1/records/{first.json()['record_id']}/correct",
        headers=market,
        json={"fields": padded["fields"], "reason": "重发"},
    )
    assert same.status_code == 200 and same.json()["version"] == 1

    twice = penalty_body(code, "沪监罚〔2026〕89号")
    twice["fields"]["CF_SY"] = "又一遍"  # violation_facts by its national code as well
    refused = await api.http.post("/v1/records", json=twice, headers=market)
    assert refused.status_code == 422, refused.text
    assert "both give violation_facts" in json.dumps(refused.json(), ensure_ascii=False)
