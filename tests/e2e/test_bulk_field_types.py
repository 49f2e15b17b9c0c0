"""Bulk loads through the gateway of items other than penalties and licences: a CSV's
text cells stored with the types of the item's schema; and natural persons of the national
双公示 format, loaded by their identity card number."""

from __future__ import annotations

import json
from typing import Any

from e2e.conftest import Api
from support import samples

CSV_TYPE = {"content-type": "text/csv"}
PURPOSE = {"purpose": "行政处罚信息核查"}


async def register(api: Api, subject: dict[str, Any]) -> None:
    registrar = {"Authorization": (await api.client(["registry:write"]))["Authorization"]}
    if subject["kind"] == "natural_person":
        body = {k: subject[k] for k in ("kind", "name", "id_number")}
    else:
        body = {
            k: subject[k]
            for k in (
                "kind",
                "name",
                "registration_authority",
                "org_category",
                "division_code",
                "org_code",
            )
        }
    reply = await api.http.post("/v1/subjects", json=body, headers=registrar)
    assert reply.status_code == 201, reply.text


async def bulk(api: Api, department: str, body: str, **params: str) -> dict[str, Any]:
    writer = await api.client(["records:write"], department=department)
    reply = await api.http.post(
        "/v1/records/bulk",
        params=params,
        content=body.encode(),
        headers={"Authorization": writer["Authorization"], **CSV_TYPE},
    )
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


async def records_of(api: Api, code: str, item_code: str, **params: str) -> list[dict[str, Any]]:
    reader = {"Authorization": (await api.client(["credit:restricted"]))["Authorization"]}
    reply = await api.http.get(
        f"/v1/subjects/{code}/records", params={"item_code": item_code, **params}, headers=reader
    )
    assert reply.status_code == 200, reply.text
    return list(reply.json()["items"])


async def test_a_tax_credit_grade_csv_is_stored_with_the_schema_types(records_api: Api) -> None:
    """Every row of a CSV for an item without national codes was refused: the year stayed
    text ("'2025' is not of type 'integer'"). A year that is no integer is named so."""
    subject = next(s for s in samples.subjects() if s["kind"] == "organization")
    await register(records_api, subject)
    code = subject["code"]
    body = (
        "subject_code,source_ref,decided_on,grade,year,evaluating_authority\n"
        f"{code},税信〔2026〕1号,2026-04-01,A,2025,国家税务总局上海市税务局\n"
        f"{code},税信〔2026〕2号,2026-04-01,B,20x5,国家税务总局上海市税务局\n"
    )
    result = await bulk(records_api, "tax", body, item_code="tax_credit_grade")
    assert result["accepted"] == 1, result
    assert result["rejected"] == [
        {"row": 2, "errors": [{"field": "fields.year", "message": "'20x5' is not an integer"}]}
    ]
    [stored] = await records_of(records_api, code, "tax_credit_grade")
    assert stored["source_ref"] == "税信〔2026〕1号"
    assert stored["fields"] == {
        "grade": "A",
        "year": 2025,
        "evaluating_authority": "国家税务总局上海市税务局",
    }
    # (the gateway shows every number as a double, 2025.0, by design: a number all the same)
    assert not isinstance(stored["fields"]["year"], str)
    again = await bulk(records_api, "tax", body, item_code="tax_credit_grade")
    assert again["accepted"] == 0 and again["unchanged"] == 1
    # The item named in an item_code column instead, as in the body of a single record.
    lines = body.splitlines()
    named = "\n".join(
        [
            lines[0].replace("subject_code,", "subject_code,item_code,"),
            *(line.replace(f"{code},", f"{code},tax_credit_grade,") for line in lines[1:]),
        ]
    )
    by_column = await bulk(records_api, "tax", named)
    assert by_column["unchanged"] == 1 and [r["row"] for r in by_column["rejected"]] == [2]


async def test_a_natural_person_of_the_national_format_is_loaded_by_identity_number(
    records_api: Api,
) -> None:
    """XDR_SHXYM is empty for a 自然人 and the identity number is in XDR_ZJHM: the row
    was refused "subject_code: required". A person named by a passport is told why."""
    person = next(s for s in samples.subjects() if s["kind"] == "natural_person")
    await register(records_api, person)
    number = person["id_number"]
    body = (
        "XDR_MC,XDR_LB,XDR_SHXYM,XDR_ZJLX,XDR_ZJHM,CF_WSH,CF_WFXW,CF_SY,CF_YJ,CF_CFLB,CF_NR,"
        "severity,CF_JDRQ,CF_CFJG\n"
        f"{person['name']},自然人,,身份证,{number},杭公罚〔2026〕1号,无证经营,无证经营,"
        "《某法》,警告,警告,general,2026-11-20,杭州市公安局\n"
        f"{person['name']},自然人,,护照,E12345678,杭公罚〔2026〕2号,无证经营,无证经营,"
        "《某法》,警告,警告,general,2026-11-20,杭州市公安局\n"
    )
    result = await bulk(records_api, "market_regulation", body)
    assert result["accepted"] == 1, result
    [refused] = result["rejected"]
    assert refused["row"] == 2
    [error] = refused["errors"]
    assert "only a natural person with an identity card" in error["message"]
    assert "E12345678" not in json.dumps(result)
    assert "xdr_zjhm" not in result["columns_not_stored"]
    [stored] = await records_of(records_api, number, "admin_penalty", **PURPOSE)
    assert stored["source_ref"] == "杭公罚〔2026〕1号"
    assert stored["fields"]["penalty_kinds"] == ["warning"]
