"""The records service's side of a bulk load's text cells: rows read from a CSV file (or a
spreadsheet) of an item without national codes are converted by the item's JSON Schema
before they are checked; NDJSON rows, typed already, are not."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from credit_common.directory import SubjectRef
from credit_common.ingest.csv_reader import read_csv
from credit_common.ingest.fieldmap import OLD_TEXT_CELLS_MARK
from credit_common.ingest.ndjson_reader import read_ndjson
from credit_common.ingest.rows import ParsedRow
from credit_common.workdays import WorkCalendar
from credit_records.adapters.catalog_store import SHIPPED, CatalogStore, item_from_definition
from credit_records.service_layer.commands import Caller
from credit_records.service_layer.ingest import Ingestion, IngestResult, RowIn

CODE = "91310115MA8BRK2A83"


class Directory:
    """Every code names a subject."""

    async def resolve(self, codes: Sequence[str]) -> dict[str, SubjectRef | None]:
        return {code: SubjectRef(uuid.uuid4(), code, False) for code in codes}

    async def invalid(self, codes: Sequence[str]) -> dict[str, str]:
        return {}


def ingestion() -> Ingestion:
    catalog = CatalogStore(None)  # type: ignore[arg-type]
    for definition in json.loads(SHIPPED.read_text(encoding="utf-8"))["items"]:
        catalog.remember(item_from_definition(definition))
    return Ingestion(None, catalog, Directory(), None, WorkCalendar())  # type: ignore[arg-type]


async def one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def prepared(
    item: str, department: str, rows: AsyncIterator[ParsedRow]
) -> tuple[dict[int, dict[str, Any]], dict[int, list[tuple[str, str]]]]:
    """The rows as the gateway sends them, through the records service's checks: the
    fields of the accepted ones and the errors of the rejected ones, by row."""
    chunk = []
    async for parsed in rows:
        assert parsed.row is not None, parsed.errors
        chunk.append(
            RowIn(
                parsed.number,
                parsed.row.subject_code,
                item,
                parsed.row.source_ref,
                parsed.row.decided_on,
                json.dumps(parsed.row.fields, ensure_ascii=False),
                text_cells=parsed.row.text_cells,
            )
        )
    result = IngestResult()
    fresh = await ingestion()._prepare(Caller("c", department), chunk, result)
    accepted = {row.row: record.versions[0].fields for row, record in fresh}
    rejected = {row: [(e.field, e.message) for e in errors] for row, errors in result.rejected}
    return accepted, rejected


@pytest.mark.parametrize(
    ("item", "department", "header", "cells", "fields"),
    [
        (
            "tax_credit_grade",
            "tax",
            "grade,year,evaluating_authority",
            "A,2025,国家税务总局上海市税务局",
            {"grade": "A", "year": 2025, "evaluating_authority": "国家税务总局上海市税务局"},
        ),
        (
            "social_insurance_arrears",
            "human_resources",
            "amount,period_from,period_to,insurance_kinds",
            "1234.5,2025-01-01,2025-12-31,养老保险;医疗保险",
            {
                "amount": 1234.5,
                "period_from": "2025-01-01",
                "period_to": "2025-12-31",
                "insurance_kinds": ["养老保险", "医疗保险"],
            },
        ),
        (
            "credit_commitment",
            "tax",
            "commitment_type,content,accepting_authority,fulfilled",
            "审批替代,承诺,某局,true",
            {
                "commitment_type": "审批替代",
                "content": "承诺",
                "accepting_authority": "某局",
                "fulfilled": True,
            },
        ),
        (
            "court_dishonest",
            "court",
            "案号,court_name,obligation,performance,dishonest_conduct",
            "(2026)沪0115执1号,上海市浦东新区人民法院,支付货款,unperformed,有履行能力而拒不履行",
            {
                "case_number": "(2026)沪0115执1号",
                "court_name": "上海市浦东新区人民法院",
                "obligation": "支付货款",
                "performance": "unperformed",
                "dishonest_conduct": "有履行能力而拒不履行",
            },
        ),
    ],
)
async def test_a_csv_row_of_an_item_without_national_codes_is_accepted_with_typed_fields(
    item: str, department: str, header: str, cells: str, fields: dict[str, Any]
) -> None:
    """The auditor's rows (/tmp/audit/csv_generic.py): each was refused, its number,
    integer or boolean "not of type", the 案号 column an unknown field."""
    data = f"subject_code,source_ref,decided_on,{header}\n{CODE},X-1,2026-04-01,{cells}\n"
    accepted, rejected = await prepared(
        item, department, read_csv(one(data.encode()), item_code=item)
    )
    assert rejected == {} and accepted == {1: fields}


async def test_a_text_cell_not_of_its_type_is_named_once_with_the_other_problems() -> None:
    data = (
        "subject_code,source_ref,decided_on,grade,year\n"
        f"{CODE},T-1,2026-04-01,A,20x5\n"
        f"{CODE},T-2,2026-04-01,Z,1999\n"
        f"{CODE},T-3,2026-04-01,B,2024\n"
    )
    accepted, rejected = await prepared(
        "tax_credit_grade", "tax", read_csv(one(data.encode()), "tax_credit_grade")
    )
    assert rejected == {
        1: [("fields.year", "'20x5' is not an integer")],
        2: [
            ("fields.grade", "'Z' is not one of ['A', 'B', 'M', 'C', 'D']"),
            ("fields.year", "1999 is less than the minimum of 2000"),
        ],
    }
    assert accepted == {3: {"grade": "B", "year": 2024}}


async def test_ndjson_values_are_not_converted() -> None:
    """NDJSON carries its types: a year written as text is refused as it is."""
    lines = [
        {"subject_code": CODE, "source_ref": "T-1", "decided_on": "2026-04-01", "fields": f}
        for f in ({"grade": "A", "year": 2025}, {"grade": "A", "year": "2025"})
    ]
    data = "\n".join(json.dumps(line) for line in lines).encode()
    accepted, rejected = await prepared(
        "tax_credit_grade", "tax", read_ndjson(one(data), "tax_credit_grade")
    )
    assert accepted == {1: {"grade": "A", "year": 2025}}
    assert rejected == {2: [("fields.year", "'2025' is not of type 'integer'")]}


async def test_a_csv_row_and_an_ndjson_row_of_the_same_record_store_the_same_fields() -> None:
    """A record loaded once from CSV and again from NDJSON is the same content (the year
    an integer both times), so a resend in the other format answers unchanged."""
    text = f"subject_code,source_ref,decided_on,grade,year\n{CODE},T-1,2026-04-01,A,2025\n"
    line = {"subject_code": CODE, "source_ref": "T-1", "decided_on": "2026-04-01"}
    typed = json.dumps({**line, "fields": {"grade": "A", "year": 2025}}).encode()
    from_csv, _ = await prepared(
        "tax_credit_grade", "tax", read_csv(one(text.encode()), "tax_credit_grade")
    )
    from_ndjson, _ = await prepared(
        "tax_credit_grade", "tax", read_ndjson(one(typed), "tax_credit_grade")
    )
    assert json.dumps(from_csv[1], sort_keys=True) == json.dumps(from_ndjson[1], sort_keys=True)


async def test_a_row_from_a_gateway_older_than_the_text_cells_flag_is_converted_too() -> None:
    """During an upgrade a gateway may still mark text cells by a key among the fields
    (OLD_TEXT_CELLS_MARK) rather than IngestRow.text_cells: the key is taken out and the
    text converted, as for a flagged row."""
    old_gateway = RowIn(
        1,
        CODE,
        "tax_credit_grade",
        "T-1",
        "2026-04-01",
        json.dumps({OLD_TEXT_CELLS_MARK: True, "grade": "A", "year": "2025"}),
    )
    flagged = RowIn(
        2, CODE, "tax_credit_grade", "T-2", "2026-04-01", '{"grade":"A","year":"2025"}', (), True
    )
    result = IngestResult()
    fresh = await ingestion()._prepare(Caller("c", "tax"), [old_gateway, flagged], result)
    assert result.rejected == [] and result.rejected_count == 0
    assert [record.versions[0].fields for _, record in fresh] == [{"grade": "A", "year": 2025}] * 2
