"""Bulk loads of the departments' sample files through the gateway."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from credit_registry.settings import RegistrySettings
from e2e.conftest import Api, gateway_settings, open_api
from support import samples, workbooks
from support.backends import drop_database, new_database
from support.processes import ServiceProcess, free_port, start_registry

CSV_TYPE = {"content-type": "text/csv"}
XLSX_TYPE = {"content-type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


# A penalty's fields in our own field names (NDJSON rows).
PENALTY_FIELDS = {
    "violation_type": "无照经营",
    "violation_facts": "未取得营业执照从事经营活动",
    "legal_basis": "《无证无照经营查处办法》",
    "penalty_kinds": ["warning"],
    "penalty_content": "警告",
    "severity": "minor",
    "deciding_authority": "某局",
}


def broken(name: str) -> set[int]:
    data = json.loads((samples.SAMPLES / "broken_rows.json").read_text(encoding="utf-8"))
    return {int(row) for row in data[name]}


async def register_samples(api: Api) -> None:
    registrar = {"Authorization": (await api.client(["registry:write"]))["Authorization"]}
    for row in samples.subjects():
        if row["kind"] == "natural_person":
            body = {"kind": "natural_person", "name": row["name"], "id_number": row["id_number"]}
        else:
            body = {
                k: row[k]
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


@pytest.fixture(scope="module")
def registry_process(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    """One registry for the whole module, holding every sample subject (`registered`):
    the tests here load records about the subjects and change none of them."""
    tmp = tmp_path_factory.mktemp("registry")
    url, handle = new_database("reg", tmp)
    settings = RegistrySettings(database_url=url, redis_url=redis_url, var_dir=tmp)
    process = start_registry(settings, tmp, port=free_port())
    yield process
    process.stop()
    drop_database(handle)


@pytest.fixture(scope="module")
async def registered(
    registry_process: ServiceProcess, tmp_path_factory: pytest.TempPathFactory
) -> ServiceProcess:
    """The module's registry once the sample subjects are registered (through a gateway
    of its own, closed afterwards)."""
    tmp = tmp_path_factory.mktemp("registrar")
    url, handle = new_database("gwreg", tmp)
    api, close = await open_api(gateway_settings(url, registry_process.address, tmp))
    try:
        await register_samples(api)
    finally:
        await close()  # type: ignore[misc]
        drop_database(handle)
    return registry_process


@pytest.fixture
async def loaded(registered: ServiceProcess, records_api: Api) -> Api:
    return records_api


async def writer(api: Api) -> dict[str, str]:
    return {
        "Authorization": (await api.client(["records:write"], department="market_regulation"))[
            "Authorization"
        ]
    }


async def test_the_penalty_csv_stores_every_row_but_the_broken_ones_and_a_resend_changes_nothing(
    loaded: Api,
) -> None:
    headers = {**(await writer(loaded)), **CSV_TYPE}
    body = (samples.SAMPLES / "admin_penalties.csv").read_bytes()
    reply = await loaded.http.post("/v1/records/bulk", content=body, headers=headers)
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert {r["row"] for r in result["rejected"]} == broken("admin_penalties.csv")
    assert (
        result["accepted"] == 300 - len(broken("admin_penalties.csv")) and result["unchanged"] == 0
    )
    assert all(r["errors"] and r["errors"][0]["message"] for r in result["rejected"])
    # A mistyped code is told from an unregistered one.
    [row17] = [r["errors"] for r in result["rejected"] if r["row"] == 17]
    assert row17[0]["field"] == "subject_code", row17
    assert row17[0]["message"].startswith("not a valid code: ") and "check" in row17[0]["message"]
    # The file's descriptive columns that hold values (subject name and category, legal
    # representative, data source; its remarks, BZ, are all empty) are read, and the
    # answer says they are not stored.
    assert result["columns_not_stored"] == ["cf_sjly", "frdb", "xdr_lb", "xdr_mc"]
    again = (await loaded.http.post("/v1/records/bulk", content=body, headers=headers)).json()
    assert again["accepted"] == 0 and again["unchanged"] == result["accepted"]
    assert {r["row"] for r in again["rejected"]} == broken("admin_penalties.csv")


async def test_a_load_cut_off_half_way_and_sent_again_ends_with_exactly_the_right_records(
    loaded: Api,
) -> None:
    headers = {**(await writer(loaded)), **CSV_TYPE}
    lines = (samples.SAMPLES / "admin_penalties.csv").read_bytes().splitlines(keepends=True)
    half = b"".join(lines[:150])  # the header and 149 rows, as if the client had gone
    first = (await loaded.http.post("/v1/records/bulk", content=half, headers=headers)).json()
    full = (
        await loaded.http.post("/v1/records/bulk", content=b"".join(lines), headers=headers)
    ).json()
    expected = 300 - len(broken("admin_penalties.csv"))
    assert first["accepted"] + full["accepted"] == expected
    assert full["unchanged"] == first["accepted"]
    code = samples.subjects()[0]["code"]
    shared = {"Authorization": (await loaded.client(["credit:restricted"]))["Authorization"]}
    listed = (await loaded.http.get(f"/v1/subjects/{code}/records", headers=shared)).json()["items"]
    assert len({r["source_ref"] for r in listed}) == len(listed)


async def test_the_licence_spreadsheet_with_spreadsheet_dates(loaded: Api) -> None:
    headers = {**(await writer(loaded)), **XLSX_TYPE}
    body = (samples.SAMPLES / "admin_licenses.xlsx").read_bytes()
    result = (await loaded.http.post("/v1/records/bulk", content=body, headers=headers)).json()
    assert {r["row"] for r in result["rejected"]} == broken("admin_licenses.xlsx")
    assert result["accepted"] == 200 - len(broken("admin_licenses.xlsx"))
    [row150] = [r["errors"] for r in result["rejected"] if r["row"] == 150]
    assert row150 == [
        {"field": "subject_code", "message": "no registered subject answers to this code"}
    ]


async def test_an_atomic_load_with_a_bad_row_stores_nothing(loaded: Api) -> None:
    headers = {**(await writer(loaded)), **CSV_TYPE}
    body = (samples.SAMPLES / "admin_penalties.csv").read_bytes()
    result = (
        await loaded.http.post(
            "/v1/records/bulk", params={"atomic": "true"}, content=body, headers=headers
        )
    ).json()
    assert result["stored_nothing"] and result["accepted"] == 0
    plain = (await loaded.http.post("/v1/records/bulk", content=body, headers=headers)).json()
    assert plain["unchanged"] == 0 and plain["accepted"] == 300 - len(broken("admin_penalties.csv"))


async def test_ndjson_rows_in_our_field_names(loaded: Api) -> None:
    headers = {**(await writer(loaded)), "content-type": "application/x-ndjson"}
    code = samples.subjects()[3]["code"]
    fields = PENALTY_FIELDS
    lines = [
        json.dumps(
            {
                "subject_code": code,
                "source_ref": f"nd-{i}",
                "decided_on": "2026-11-02",
                "fields": fields,
            },
            ensure_ascii=False,
        )
        for i in range(5)
    ]
    body = ("\n".join([*lines, "{not json", ""])).encode()
    reply = await loaded.http.post(
        "/v1/records/bulk", params={"item_code": "admin_penalty"}, content=body, headers=headers
    )
    result = reply.json()
    assert result["accepted"] == 5 and [r["row"] for r in result["rejected"]] == [6]
    missing = await loaded.http.post("/v1/records/bulk", content=body, headers=headers)
    assert missing.status_code == 422 and missing.json()["code"] == "item_required"
    assert [e["field"] for e in missing.json()["errors"]] == ["item_code"]
    # Lines shaped as the body of a single record name their item: the first one's is the
    # upload's, and a line naming another is that line's error.
    named = [
        json.dumps({**json.loads(line), "item_code": item}, ensure_ascii=False)
        for line, item in zip(
            lines, ["admin_penalty"] * 3 + ["admin_license", "admin_penalty"], strict=True
        )
    ]
    again = await loaded.http.post(
        "/v1/records/bulk", content="\n".join(named).encode(), headers=headers
    )
    assert again.status_code == 200, again.text
    shown = again.json()
    assert shown["unchanged"] == 4 and [r["row"] for r in shown["rejected"]] == [4]
    assert "not the upload's item 'admin_penalty'" in shown["rejected"][0]["errors"][0]["message"]
    # A first line too long to read is that line's error: the item is the next line's.
    streamed = ("x" * (1 << 21) + "\n" + "\n".join(named)).encode()

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(streamed), 1 << 16):
            yield streamed[start : start + (1 << 16)]

    late = await loaded.http.post("/v1/records/bulk", content=pieces(), headers=headers)
    assert late.status_code == 200, late.text
    assert late.json()["unchanged"] == 4
    assert [r["row"] for r in late.json()["rejected"]] == [1, 5]


async def test_a_row_with_a_nul_character_is_rejected_on_its_own(loaded: Api) -> None:
    """PostgreSQL can store no NUL: such a row is refused with its reason, the others
    are stored (it used to fail the whole chunk's COPY)."""
    headers = {**(await writer(loaded)), "content-type": "application/x-ndjson"}
    code = samples.subjects()[3]["code"]
    fields = PENALTY_FIELDS
    rows = [
        {"source_ref": "nul-0", "fields": fields},
        {"source_ref": "nul-\x001", "fields": fields},
        {"source_ref": "nul-2", "fields": {**fields, "violation_facts": "未取得\x00执照"}},
        {"source_ref": "nul-3", "fields": {**fields, "penalty_kinds": ["warning\x00"]}},
        {"source_ref": "nul-4", "fields": fields},
    ]
    body = "\n".join(
        json.dumps({"subject_code": code, "decided_on": "2026-11-02", **row}) for row in rows
    )
    reply = await loaded.http.post(
        "/v1/records/bulk",
        params={"item_code": "admin_penalty"},
        content=body.encode(),
        headers=headers,
    )
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert result["accepted"] == 2, result
    assert {r["row"]: r["errors"][0]["field"] for r in result["rejected"]} == {
        2: "source_ref",
        3: "fields.violation_facts",
        4: "fields.penalty_kinds.0",
    }
    assert all("NUL" in r["errors"][0]["message"] for r in result["rejected"])


async def post_ndjson(api: Api, lines: list[str], item_code: str = "admin_penalty") -> Any:
    """Posts NDJSON lines as given (no JSON encoder in between) and answers the result."""
    headers = {**(await writer(api)), "content-type": "application/x-ndjson"}
    reply = await api.http.post(
        "/v1/records/bulk",
        params={"item_code": item_code},
        content="\n".join(lines).encode("utf-8", "surrogatepass"),
        headers=headers,
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


def penalty_line(source_ref: str, fine_amount: str = "1.5") -> str:
    """An NDJSON penalty row with `fine_amount` written as the JSON text given."""
    code = samples.subjects()[3]["code"]
    head = json.dumps({"subject_code": code, "source_ref": source_ref, "decided_on": "2026-11-02"})[
        :-1
    ]
    fields = json.dumps(PENALTY_FIELDS)[:-1]
    return f'{head}, "fields": {fields}, "fine_amount": {fine_amount}}}}}'


async def test_licences_valid_until_9999_12_31_are_stored_and_kept_for_good(
    loaded: Api,
) -> None:
    """长期有效 licences say 9999-12-31 (their retention used to overflow: a 500 for the
    whole upload)."""
    code = samples.subjects()[3]["code"]
    fields = {
        "license_category": "general",
        "content": "食品经营许可",
        "valid_from": "2026-01-01",
        "licensing_authority": "某局",
    }
    lines = [
        json.dumps(
            {
                "subject_code": code,
                "source_ref": f"lic-{until}",
                "decided_on": "2026-11-02",
                "fields": {**fields, "valid_until": until},
            }
        )
        for until in ("9999-12-31", "9998-01-01", "2030-06-30")
    ]
    result = await post_ndjson(loaded, lines, "admin_license")
    assert result["accepted"] == 3 and result["rejected"] == [], result
    shared = {"Authorization": (await loaded.client(["credit:restricted"]))["Authorization"]}
    listed = (await loaded.http.get(f"/v1/subjects/{code}/records", headers=shared)).json()
    kept = {r["source_ref"]: r["retention_until"] for r in listed["items"]}
    assert kept["lic-9999-12-31"] == kept["lic-9998-01-01"] == "9999-12-31"
    assert kept["lic-2030-06-30"] == "2035-06-30"


async def test_a_row_with_a_number_that_is_not_finite_is_rejected_on_its_own(
    loaded: Api,
) -> None:
    """NaN and the infinities (which Python's JSON reads, 1e400 too) and integers past a
    double's range are refused with the field named, the other rows stored (jsonb refuses
    the first: the whole upload used to answer 500 with earlier chunks stored)."""
    amounts = ["NaN", "Infinity", "-Infinity", "1e400", "1" + "0" * 400, "-1e999"]
    lines = [
        penalty_line("nf-0"),
        *(penalty_line(f"nf-{i}", amount) for i, amount in enumerate(amounts, 1)),
        penalty_line("nf-7", "1e300"),
    ]
    result = await post_ndjson(loaded, lines)
    assert result["accepted"] == 2, result
    assert {r["row"]: r["errors"][0]["field"] for r in result["rejected"]} == {
        row: "fields.fine_amount" for row in range(2, 8)
    }
    assert all("finite" in r["errors"][0]["message"] for r in result["rejected"])


async def test_a_row_with_a_lone_surrogate_is_rejected_on_its_own(loaded: Api) -> None:
    """A lone surrogate (JSON's \\ud800, or the UTF-8 bytes of one) is no text: such a row
    is refused, the others are stored (it used to break the stream to the records
    service: a 500 for the whole upload)."""
    good = json.loads(penalty_line("ls-0"))
    lone = "\ud800"
    facts = {**good["fields"], "violation_facts": f"未取得{lone}执照"}
    rows = [
        good,
        {**good, "source_ref": f"ls-{lone}1"},
        {**good, "source_ref": "ls-2", "fields": facts},
        {**good, "source_ref": "ls-3", "fields": {**good["fields"], lone: "x"}},
        {**good, "source_ref": "ls-4", "subject_code": good["subject_code"] + lone},
        {**good, "source_ref": "ls-5", "decided_on": "2026-11-02" + lone},
        {**good, "source_ref": "ls-6", "fields": {**facts, "violation_facts": ["\udfff"]}},
        {**good, "source_ref": "ls-7"},
    ]
    lines = [json.dumps(row, ensure_ascii=i % 2 == 0) for i, row in enumerate(rows)]
    result = await post_ndjson(loaded, lines)
    assert result["accepted"] == 2, result
    assert sorted(r["row"] for r in result["rejected"]) == [2, 3, 4, 5, 6, 7]
    assert all(
        r["errors"]
        == [{"field": "row", "message": "the line holds a lone surrogate, which is not text"}]
        for r in result["rejected"]
    )


async def test_a_row_nested_too_deep_is_rejected_on_its_own(loaded: Api) -> None:
    """Arrays nested 5,000 deep made the JSON reader recurse out of its stack (a 500 for
    the whole upload); anything nested deeper than protobuf reads back is refused too."""
    good = penalty_line("deep-0")
    deep = [
        good.replace('"warning"', "[" * depth + '"warning"' + "]" * depth) for depth in (5000, 31)
    ]
    lines = [good, *(line.replace("deep-0", f"deep-{i}") for i, line in enumerate(deep, 1))]
    result = await post_ndjson(loaded, lines)
    assert result["accepted"] == 1, result
    assert {r["row"]: r["errors"] for r in result["rejected"]} == {
        row: [{"field": "row", "message": "the line is nested deeper than 32 levels"}]
        for row in (2, 3)
    }


async def test_wrong_headers_types_and_sizes_are_clear_errors(records_api: Api) -> None:
    headers = await writer(records_api)
    reply = await records_api.http.post(
        "/v1/records/bulk", content=b"FOO,BAR\n1,2\n", headers={**headers, **CSV_TYPE}
    )
    assert reply.status_code == 422 and reply.json()["code"] == "invalid_header"
    reply = await records_api.http.post(
        "/v1/records/bulk",
        params={"item_code": "admin_penalty"},
        content=b"XDR_SHXYM,CF_WSH,CF_JDRQ,COLOUR\n",
        headers={**headers, **CSV_TYPE},
    )
    assert reply.status_code == 422 and "COLOUR" in json.dumps(
        reply.json()["errors"], ensure_ascii=False
    )
    reply = await records_api.http.post(
        "/v1/records/bulk", content=b"%PDF", headers={**headers, "content-type": "application/pdf"}
    )
    assert reply.status_code == 415
    reply = await records_api.http.post(
        "/v1/records/bulk", content=b"not a zip", headers={**headers, **XLSX_TYPE}
    )
    assert reply.status_code == 422 and reply.json()["code"] == "invalid_spreadsheet"
    huge = str(2 * 1024**3)
    reply = await records_api.http.post(
        "/v1/records/bulk", content=b"x", headers={**headers, **CSV_TYPE, "content-length": huge}
    )
    assert reply.status_code == 413 and reply.json()["code"] == "payload_too_large"
    assert reply.json()["stored_nothing"] is True


async def test_an_upload_while_the_records_service_is_away_is_told_so_and_stores_nothing(
    loaded: Api, records_process: ServiceProcess
) -> None:
    """A bulk upload's deadline is long (an hour); with the records service away it must
    not wait for it that long: a 503 naming it, now, and the caller sends again."""
    headers = {**(await writer(loaded)), **CSV_TYPE}
    body = (samples.SAMPLES / "admin_penalties.csv").read_bytes()
    await asyncio.to_thread(records_process.stop)
    reply = await asyncio.wait_for(
        loaded.http.post("/v1/records/bulk", content=body, headers=headers), timeout=60
    )
    assert reply.status_code == 503, reply.text
    assert reply.json()["service"] == "records"


LICENCES_BODY = workbooks.LICENCES.read_bytes()
SHEET_BROKEN_AT_ROW = "the sheet breaks off here and cannot be read on"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"PK\x03\x04 not a zip after all", id="not_a_zip"),
        pytest.param(workbooks.halved(LICENCES_BODY), id="file_cut_off"),
        pytest.param(workbooks.licences_with(workbooks.SHEET, None), id="no_worksheet"),
        pytest.param(
            workbooks.licences_with(workbooks.WORKBOOK, workbooks.halved), id="workbook_xml_cut"
        ),
        pytest.param(
            workbooks.licences_with(workbooks.SHEET, lambda xml: xml[:400]),
            id="sheet_cut_in_header",
        ),
    ],
)
async def test_a_file_that_is_no_readable_spreadsheet_is_refused_and_stores_nothing(
    loaded: Api, body: bytes
) -> None:
    """A broken workbook XML or a sheet cut before its header row was a 500."""
    headers = {**(await writer(loaded)), **XLSX_TYPE}
    reply = await loaded.http.post("/v1/records/bulk", content=body, headers=headers)
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    problem = reply.json()
    assert problem["code"] == "invalid_spreadsheet"
    assert [e["field"] for e in problem["errors"]] == ["body"]
    full = await loaded.http.post("/v1/records/bulk", content=LICENCES_BODY, headers=headers)
    assert full.json()["unchanged"] == 0


async def test_a_sheet_broken_part_way_keeps_the_rows_before_and_names_the_break(
    loaded: Api,
) -> None:
    """A cell cut off in data row 100 was a 500 mid-stream; now rows 1-99 are stored as
    usual (bar the sample's broken ones) and row 100 is rejected for the break."""
    headers = {**(await writer(loaded)), **XLSX_TYPE}
    body = workbooks.licences_with(workbooks.SHEET, workbooks.cut_in_data_row(100))
    reply = await loaded.http.post("/v1/records/bulk", content=body, headers=headers)
    assert reply.status_code == 200, reply.text
    result = reply.json()
    before = {row for row in broken("admin_licenses.xlsx") if row < 100}
    assert {r["row"] for r in result["rejected"]} == before | {100}
    [at_break] = [r for r in result["rejected"] if r["row"] == 100]
    assert at_break["errors"][0]["message"].startswith(SHEET_BROKEN_AT_ROW)
    assert result["accepted"] == 99 - len(before)
    full = (
        await loaded.http.post("/v1/records/bulk", content=LICENCES_BODY, headers=headers)
    ).json()
    assert full["unchanged"] == result["accepted"]
    assert full["accepted"] == 200 - len(broken("admin_licenses.xlsx")) - result["accepted"]


async def test_an_atomic_upload_of_a_sheet_broken_part_way_stores_nothing(loaded: Api) -> None:
    headers = {**(await writer(loaded)), **XLSX_TYPE}
    for body in (
        workbooks.licences_with(workbooks.SHEET, workbooks.cut_in_data_row(100)),
        workbooks.licences_with_a_corrupt_sheet_member(),
    ):
        reply = await loaded.http.post(
            "/v1/records/bulk", params={"atomic": "true"}, content=body, headers=headers
        )
        assert reply.status_code == 200, reply.text
        result = reply.json()
        assert result["stored_nothing"] and result["accepted"] == 0
        assert any(
            e["message"].startswith(SHEET_BROKEN_AT_ROW)
            for r in result["rejected"]
            for e in r["errors"]
        )
    full = (
        await loaded.http.post("/v1/records/bulk", content=LICENCES_BODY, headers=headers)
    ).json()
    assert full["unchanged"] == 0
    assert full["accepted"] == 200 - len(broken("admin_licenses.xlsx"))


async def test_a_long_sheet_broken_past_the_first_batch_keeps_the_rows_before(
    loaded: Api,
) -> None:
    """The break comes while the stream to the records service is already open (the
    gateway reads the sheet 1,000 rows at a time): the rows before it are stored."""
    headers = {**(await writer(loaded)), **XLSX_TYPE}
    whole = workbooks.many_licences(1200)
    body = workbooks.licences_with(workbooks.SHEET, workbooks.cut_in_data_row(1100), whole)
    reply = await loaded.http.post("/v1/records/bulk", content=body, headers=headers)
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert result["accepted"] + result["rejected_count"] == 1100
    assert max(r["row"] for r in result["rejected"]) == 1100
    [at_break] = [r for r in result["rejected"] if r["row"] == 1100]
    assert at_break["errors"][0]["message"].startswith(SHEET_BROKEN_AT_ROW)


PENALTIES = (samples.SAMPLES / "admin_penalties.csv").read_bytes()
# A body limit the penalty CSV passes at row 220 (of 300), well past the 64 KiB the CSV
# reader takes in before its first row.
CAP = len(b"".join(PENALTIES.splitlines(keepends=True)[:221]))


@pytest.fixture
async def capped(
    loaded: Api,
    registry_process: ServiceProcess,
    records_process: ServiceProcess,
    make_database_url: Callable[[str], str],
    tmp_path: Path,
) -> AsyncIterator[Api]:
    """A second gateway before the same services: bulk bodies capped at CAP bytes, rows
    sent on 40 at a time (so chunks are stored before the cap is reached)."""
    var_dir = tmp_path / "capped"
    var_dir.mkdir()
    settings = gateway_settings(
        make_database_url("gwcap"),
        registry_process.address,
        var_dir,
        records_address=records_process.address,
        bulk_max_bytes=CAP,
        bulk_chunk_rows=40,
    )
    api, close = await open_api(settings)
    yield api
    await close()  # type: ignore[misc]


async def streamed(body: bytes, piece: int = 1024) -> AsyncIterator[bytes]:
    """The body in pieces, with no Content-Length: the cap is found only as it arrives."""
    for start in range(0, len(body), piece):
        yield body[start : start + piece]


async def test_a_load_past_the_body_limit_answers_413_saying_what_it_stored(
    capped: Api, loaded: Api
) -> None:
    """Rows are independent: those read before the limit are stored, and the 413 tells
    which and how many, so that the rest can be sent and nothing is stored twice."""
    headers = {**(await writer(capped)), **CSV_TYPE}
    reply = await capped.http.post("/v1/records/bulk", content=streamed(PENALTIES), headers=headers)
    assert reply.status_code == 413, reply.text
    cut = reply.json()
    assert cut["code"] == "payload_too_large" and cut["stored_nothing"] is False
    assert 150 < cut["rows_read"] < 221 and f"row {cut['rows_read']}" in cut["detail"]
    rejected = {r["row"] for r in cut["rejected"]}
    assert rejected == {row for row in broken("admin_penalties.csv") if row <= cut["rows_read"]}
    assert cut["accepted"] > 0 and cut["unchanged"] == 0 and cut["rejected_count"] == len(rejected)
    headers = {**(await writer(loaded)), **CSV_TYPE}
    full = (await loaded.http.post("/v1/records/bulk", content=PENALTIES, headers=headers)).json()
    assert full["unchanged"] == cut["accepted"]
    assert full["accepted"] + cut["accepted"] == 300 - len(broken("admin_penalties.csv"))


async def test_an_atomic_load_past_the_body_limit_stores_nothing(capped: Api, loaded: Api) -> None:
    """gRPC swallows the limit's error raised once the stream is open and cancels the
    call: the caller still gets the 413, and the chunks already sent are not stored."""
    lines = PENALTIES.splitlines(keepends=True)
    wrong = broken("admin_penalties.csv")
    clean = b"".join(line for row, line in enumerate(lines) if row not in wrong)
    headers = {**(await writer(capped)), **CSV_TYPE}
    reply = await capped.http.post(
        "/v1/records/bulk", params={"atomic": "true"}, content=streamed(clean), headers=headers
    )
    assert reply.status_code == 413, reply.text
    assert reply.json()["code"] == "payload_too_large" and reply.json()["stored_nothing"] is True
    headers = {**(await writer(loaded)), **CSV_TYPE}
    again = (await loaded.http.post("/v1/records/bulk", content=clean, headers=headers)).json()
    assert again["unchanged"] == 0 and again["accepted"] == 300 - len(wrong)


# A catalog item of one free text field of any length, which only market regulation
# writes: rows as large as the readers take (a CSV record of a million characters) are
# stored whole.
NOTE_ITEM = {
    "item_code": "bulk_long_note",
    "name": "长备注",
    "category": "测试",
    "nature": "neutral",
    "disclosure": "restricted",
    "source_departments": ["market_regulation"],
    "publicity_days": 30,
    "retention_days": 365,
    "repairable": False,
    "fields": {
        "type": "object",
        "required": ["note"],
        "additionalProperties": False,
        "properties": {"note": {"type": "string"}},
    },
}


async def note_item(api: Api) -> str:
    reply = await api.http.post(
        "/v1/catalog/items", json=NOTE_ITEM, headers=await api.admin_headers()
    )
    assert reply.status_code == 201, reply.text
    return str(NOTE_ITEM["item_code"])


def note_line(ref: str, characters: int) -> str:
    code = samples.subjects()[3]["code"]
    note = "信" * characters
    return json.dumps(
        {
            "subject_code": code,
            "source_ref": ref,
            "decided_on": "2026-01-05",
            "fields": {"note": note},
        },
        ensure_ascii=False,
    )


async def test_an_upload_of_rows_past_the_records_services_message_limit_stores_them_all(
    loaded: Api,
) -> None:
    """24 rows of a million Chinese characters (3 MB each in UTF-8) held more than the 64
    MiB a gRPC message to the records service may: the stream broke with a 503 after the
    earlier chunks were stored. Chunks are capped by their size too."""
    item = await note_item(loaded)
    code = samples.subjects()[3]["code"]
    note = "信" * 1_000_000
    body = "subject_code,source_ref,decided_on,note\n" + "".join(
        f"{code},big-{i},2026-01-05,{note}\n" for i in range(24)
    )
    headers = {**(await writer(loaded)), **CSV_TYPE}
    reply = await loaded.http.post(
        "/v1/records/bulk",
        params={"item_code": item},
        content=streamed(body.encode(), 1 << 20),
        headers=headers,
    )
    assert reply.status_code == 200, reply.text[:500]
    result = reply.json()
    assert result["accepted"] == 24 and result["rejected"] == [], result["rejected"][:1]


@pytest.fixture
async def small_chunks(
    loaded: Api,
    registry_process: ServiceProcess,
    records_process: ServiceProcess,
    make_database_url: Callable[[str], str],
    tmp_path: Path,
) -> AsyncIterator[Api]:
    """A second gateway before the same services, sending rows on in chunks of at most
    256 KiB."""
    var_dir = tmp_path / "small_chunks"
    var_dir.mkdir()
    settings = gateway_settings(
        make_database_url("gwsmall"),
        registry_process.address,
        var_dir,
        records_address=records_process.address,
        bulk_chunk_bytes=256 * 1024,
    )
    api, close = await open_api(settings)
    yield api
    await close()  # type: ignore[misc]


async def test_a_row_larger_than_a_chunk_may_be_is_rejected_by_its_number_and_not_sent(
    small_chunks: Api,
) -> None:
    """Rows of 150 KB go one to a chunk; one of 300 KB, more than a chunk may hold, is
    that row's error, the others stored (and in an atomic load, nothing)."""
    item = await note_item(small_chunks)
    lines = [note_line(f"chunk-{i}", 100_000 if i == 4 else 50_000) for i in range(1, 7)]
    headers = {**(await writer(small_chunks)), "content-type": "application/x-ndjson"}
    body = "\n".join(lines).encode()
    atomic = await small_chunks.http.post(
        "/v1/records/bulk",
        params={"item_code": item, "atomic": "true"},
        content=body,
        headers=headers,
    )
    assert atomic.status_code == 200, atomic.text
    assert atomic.json()["stored_nothing"] and atomic.json()["accepted"] == 0
    reply = await small_chunks.http.post(
        "/v1/records/bulk", params={"item_code": item}, content=body, headers=headers
    )
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert result["accepted"] == 5 and result["unchanged"] == 0
    [refused] = result["rejected"]
    assert refused["row"] == 4
    [error] = refused["errors"]
    assert error["field"] == "row" and f"{256 * 1024} bytes" in error["message"], error


async def test_rejected_rows_are_listed_in_row_order(loaded: Api) -> None:
    headers = {**(await writer(loaded)), **CSV_TYPE}
    body = (samples.SAMPLES / "admin_penalties.csv").read_bytes()
    result = (await loaded.http.post("/v1/records/bulk", content=body, headers=headers)).json()
    rows = [r["row"] for r in result["rejected"]]
    assert rows == sorted(broken("admin_penalties.csv")), rows


async def test_decision_dates_other_than_yyyy_mm_dd_are_rejected_as_in_a_single_record(
    loaded: Api,
) -> None:
    """Python's date parser also takes 20261102 and 2026-W45-1 (ISO week dates)."""
    lines = [
        penalty_line("dd-0"),
        penalty_line("dd-1").replace('"2026-11-02"', '"20261102"'),
        penalty_line("dd-2").replace('"2026-11-02"', '"2026-W45-1"'),
        penalty_line("dd-3").replace('"2026-11-02"', '"2026-02-30"'),
    ]
    result = await post_ndjson(loaded, lines)
    assert result["accepted"] == 1, result
    expected = [
        {"field": "decided_on", "message": "expected a date such as 2026-05-01 (YYYY-MM-DD)"}
    ]
    assert {r["row"]: r["errors"] for r in result["rejected"]} == {
        row: expected for row in (2, 3, 4)
    }


async def test_an_upload_of_an_item_refused_to_a_single_record_is_refused_whole(
    loaded: Api,
) -> None:
    """Every row used to come back rejected, with a 200, where a single record of the
    item is a 403 department_mismatch or a 422 unknown_item: so is the upload now, the
    item being named, in a header or on the first line."""
    headers = await writer(loaded)  # market regulation, no source of tax credit grades
    code = samples.subjects()[3]["code"]
    single = {
        "subject_code": code,
        "source_ref": "税信〔2026〕9号",
        "decided_on": "2026-04-01",
        "fields": {"grade": "A", "year": 2025, "evaluating_authority": "某税务局"},
    }
    csv = f"subject_code,source_ref,decided_on,grade,year,evaluating_authority\n{code},税信〔2026〕9号,2026-04-01,A,2025,某税务局\n"
    by_column = csv.replace("subject_code,", "item_code,subject_code,", 1).replace(
        f"\n{code},", "\n{item}," + f"{code},"
    )
    for item, status, reason in (
        ("tax_credit_grade", 403, "department_mismatch"),
        ("no_such_item", 422, "unknown_item"),
    ):
        one = await loaded.http.post(
            "/v1/records", json={**single, "item_code": item}, headers=headers
        )
        assert one.status_code == status and one.json()["code"] == reason, one.text
        ndjson = json.dumps({**single, "item_code": item}, ensure_ascii=False)
        for params, body, media in (
            ({"item_code": item}, csv, CSV_TYPE),
            ({}, by_column.replace("{item}", item), CSV_TYPE),
            ({}, ndjson, {"content-type": "application/x-ndjson"}),
            ({}, "{not json\n" + ndjson, {"content-type": "application/x-ndjson"}),
        ):
            reply = await loaded.http.post(
                "/v1/records/bulk",
                params=params,
                content=body.encode(),
                headers={**headers, **media},
            )
            assert reply.status_code == status, reply.text
            assert reply.headers["content-type"] == "application/problem+json"
            problem = reply.json()
            assert problem["code"] == reason
            if status == 403:
                assert problem["detail"] == one.json()["detail"]
            else:
                assert problem["errors"] == one.json()["errors"]
