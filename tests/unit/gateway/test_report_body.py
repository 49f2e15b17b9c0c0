"""The report's sections are written without a model per record: the bytes are those the
report's model writes (routes/report.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from credit.records.v1 import records_pb2 as rec
from credit_gateway.domain.access import Level
from credit_gateway.entrypoints import schemas
from credit_gateway.entrypoints.record_views import record_item
from credit_gateway.entrypoints.routes.report import report_sections

MOMENT = dt.datetime(2026, 10, 2, 8, 30, 1, 123456, tzinfo=dt.UTC)

SUBJECT = schemas.SubjectPublic.model_validate(
    {
        "code": "91310115MA1K3YJ25X",
        "name": "某某“科技”有限公司",
        "kind": "organization",
        "status": "active",
        "registration_authority": "9",
        "org_category": "1",
        "division_code": "310115",
        "org_code": "MA1K3YJ25",
        "legal_representative": None,
        "registered_on": "2020-01-02",
        "former_names": [{"name": "旧名", "until": MOMENT}],
        "legacy_codes": [{"type": "org_code", "value": "MA1K3YJ25"}],
        "merged_codes": [],
        "level": "shared",
    }
)

ENTRY = {
    "entry_id": "e-1",
    "subject_code": "91310115MA1K3YJ25X",
    "subject_name": "某某“科技”有限公司",
    "list_type": "serious_illegal_dishonest",
    "color": "black",
    "state": "effective",
    "reason": "严重违法\n失信",
    "decision_ref": "某决〔2026〕1号",
    "basis_record_ids": ["3e4d77dc-f3cd-4f8b-9b1a-8a5cf207baaf"],
    "department": "market_regulation",
    "proposed_at": MOMENT,
    "publicity_until": None,
    "effective_from": dt.datetime(2026, 10, 3, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    "valid_until": MOMENT + dt.timedelta(days=1000),
    "under_objection": False,
    "repairable": True,
    "repair_possible_from": None,
    "level": "shared",
}

OBJECTION = {
    "objection_id": "o-1",
    "target": {"kind": "record", "id": "3e4d77dc-f3cd-4f8b-9b1a-8a5cf207baaf"},
    "subject_code": "91310115MA1K3YJ25X",
    "state": "verifying",
    "reason": "金额有误",
    "evidence": [{"name": "决定书.pdf", "sha256": "ab" * 32}],
    "filed_by": "cl_self",
    "filed_at": MOMENT,
    "source_department": "market_regulation",
    "accept_due": "2026-10-05",
    "verify_due": "2026-10-20",
    "due_at": MOMENT + dt.timedelta(days=18),
    "overdue": False,
    "corrected_fields": {"fine_amount": 5000.0},
    "level": "shared",
}


def _record(category: str, ref: str) -> rec.Record:
    record = rec.Record(
        record_id="3e4d77dc-f3cd-4f8b-9b1a-8a5cf207baaf",
        item_code="admin_penalty",
        item_name="行政处罚",
        category=category,
        decided_on="2026-10-01",
        status="active",
        version=1,
        fields_json='{"fine_amount":5000,"penalty_content":"罚款\\t5000元","parts":[1.5,null]}',
        retention_until="2031-10-01",
        publicity_until="2027-10-01",
        source_ref=ref,
    )
    record.submitted_at.FromDatetime(MOMENT)
    return record


@pytest.mark.parametrize(
    "as_of",
    [None, MOMENT, dt.datetime(2026, 10, 2, 16, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))],
)
@pytest.mark.parametrize("with_sections", [True, False])
def test_a_reports_sections_are_written_as_its_model_would_be(
    as_of: dt.datetime | None, with_sections: bool
) -> None:
    records = [_record("penalty", "1"), _record("license", "2"), _record("penalty", "3")]
    by_category: dict[str, list[dict[str, object]]] = {}
    for r in records if with_sections else []:
        by_category.setdefault(r.category, []).append(record_item(r, SUBJECT.code, Level.SHARED))
    lists = schemas.SubjectLists.model_validate(
        {
            "code": SUBJECT.code,
            "restricted": with_sections,
            "rewarded": False,
            "entries": [ENTRY] if with_sections else [],
            "measures": [
                {
                    "measure_code": "m1",
                    "name": "限制参与政府采购",
                    "kind": "punishment",
                    "entry_id": "e-1",
                    "list_type": "serious_illegal_dishonest",
                    "basis": "《政府采购法》第二十二条",
                    "implementing_department": "finance",
                }
            ]
            if with_sections
            else [],
            "level": "shared",
        }
    )
    objections = [schemas.ObjectionPublic.model_validate(OBJECTION)] if with_sections else []
    model = schemas.CreditReport(
        report_id="",
        generated_at=MOMENT,
        level="shared",
        as_of=as_of,
        subject=SUBJECT,
        records_by_category={
            c: [schemas.RecordPublic.model_validate(i) for i in items]
            for c, items in by_category.items()
        },
        lists=lists,
        open_objections=[o.model_dump(mode="json") for o in objections],
    )
    expected = model.model_dump_json(exclude={"report_id", "generated_at"}).encode()
    written = report_sections(Level.SHARED, as_of, SUBJECT, by_category, lists, objections)
    assert written == expected
