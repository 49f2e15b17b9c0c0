"""Mapping of national 双公示 columns and values to record rows."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import math

import pytest

from credit_common.ingest.fieldmap import (
    NATIONAL_FIELDS,
    REQUIRED_COLUMNS,
    ColumnPlan,
    Row,
    check_header,
    detect_item,
    map_fields,
    map_row,
)
from support import samples

PENALTY_HEADER = [
    "XDR_MC",
    "XDR_LB",
    "XDR_SHXYM",
    "FRDB",
    "CF_WSH",
    "CF_WFXW",
    "CF_SY",
    "CF_YJ",
    "CF_CFLB",
    "CF_NR",
    "CF_NR_FK",
    "CF_NR_WFFF",
    "CF_NR_ZKDX",
    "severity",
    "CF_JDRQ",
    "CF_GSJZQ",
    "CF_CFJG",
    "CF_CFJGDM",
    "CF_SJLY",
    "CF_SJLYDM",
    "BZ",
]
LICENSE_HEADER = [
    "XDR_MC",
    "XDR_SHXYM",
    "XK_XKWS",
    "XK_WSH",
    "XK_XKLB",
    "XK_XKZS",
    "XK_XKBH",
    "XK_NR",
    "XK_JDRQ",
    "XK_YXQZ",
    "XK_YXQZI",
    "XK_XKJG",
    "XK_XKJGDM",
    "XK_ZT",
    "XK_LYDW",
]


def penalty(**cells: object) -> dict[str, object]:
    raw: dict[str, object] = {
        "XDR_SHXYM": "91433101MAQJF8398T",
        "CF_WSH": "吉首市监罚〔2025〕1000号",
        "CF_JDRQ": "2025-09-10",
    }
    raw.update(cells)
    return raw


def test_the_national_codes_map_to_the_domain_field_names() -> None:
    assert NATIONAL_FIELDS["admin_penalty"] == {
        "CF_WFXW": "violation_type",
        "CF_SY": "violation_facts",
        "CF_YJ": "legal_basis",
        "CF_CFLB": "penalty_kinds",
        "CF_NR": "penalty_content",
        "CF_NR_FK": "fine_amount",
        "CF_NR_WFFF": "confiscated_amount",
        "CF_NR_ZKDX": "suspended_licences",
        "CF_CFJG": "deciding_authority",
        "CF_CFJGDM": "deciding_authority_code",
        "CF_GSJZQ": "publicity_deadline",
    }
    assert NATIONAL_FIELDS["admin_license"] == {
        "XK_XKWS": "document_name",
        "XK_XKLB": "license_category",
        "XK_XKZS": "certificate_name",
        "XK_XKBH": "certificate_number",
        "XK_NR": "content",
        "XK_YXQZ": "valid_from",
        "XK_YXQZI": "valid_until",
        "XK_XKJG": "licensing_authority",
        "XK_XKJGDM": "licensing_authority_code",
        "XK_ZT": "status",
    }


def test_required_columns_are_subject_code_decision_number_and_date() -> None:
    assert REQUIRED_COLUMNS["admin_penalty"] == ("XDR_SHXYM", "CF_WSH", "CF_JDRQ")
    assert REQUIRED_COLUMNS["admin_license"] == ("XDR_SHXYM", "XK_WSH", "XK_JDRQ")
    assert REQUIRED_COLUMNS["court_dishonest"] == ("subject_code", "source_ref", "decided_on")


@pytest.mark.parametrize(
    ("headers", "item"),
    [
        (PENALTY_HEADER, "admin_penalty"),
        (LICENSE_HEADER, "admin_license"),
        (["subject_code", "source_ref", "decided_on", "violation_type"], None),
        (["XDR_SHXYM", "CF_WSH", "XK_WSH"], None),
        ([], None),
        ([" cf_wsh ", "XDR_SHXYM"], "admin_penalty"),
    ],
)
def test_the_item_is_detected_from_the_header(headers: list[str], item: str | None) -> None:
    assert detect_item(headers) == item


def test_the_sample_headers_have_no_problems() -> None:
    assert check_header("admin_penalty", PENALTY_HEADER) == []
    assert check_header("admin_license", LICENSE_HEADER) == []


def test_a_header_may_mix_national_codes_and_our_names() -> None:
    header = ["subject_code", "CF_WSH", "decided_on", "violation_type", "CF_SY", "Legal_Basis"]
    assert check_header("admin_penalty", header) == []


def test_a_missing_required_column_is_named() -> None:
    problems = check_header("admin_penalty", [h for h in PENALTY_HEADER if h != "CF_WSH"])
    assert problems == ["missing required column CF_WSH (or source_ref)"]


def test_an_unknown_column_is_a_problem_naming_it() -> None:
    problems = check_header("admin_penalty", [*PENALTY_HEADER, "CF_XYZ"])
    assert len(problems) == 1
    assert "'CF_XYZ'" in problems[0]


def test_a_licence_header_is_wrong_for_penalties() -> None:
    problems = check_header("admin_penalty", LICENSE_HEADER)
    assert any("'XK_XKLB'" in p for p in problems)
    assert any("CF_WSH" in p for p in problems)


def test_a_column_given_both_as_code_and_as_our_name_is_a_problem() -> None:
    problems = check_header("admin_penalty", [*PENALTY_HEADER, "legal_basis"])
    assert problems == ["column 'legal_basis' repeats column 'CF_YJ'"]
    assert check_header("admin_penalty", [*PENALTY_HEADER, "BZ"]) == ["column 'BZ' appears twice"]


def test_items_without_national_codes_take_any_column_as_a_field() -> None:
    header = ["subject_code", "source_ref", "decided_on", "case_number", "court_name"]
    assert check_header("court_dishonest", header) == []
    assert check_header("court_dishonest", header[1:]) == ["missing required column subject_code"]
    row = map_row(
        "court_dishonest", dict(zip(header, ["S", "R", "2025-01-02", " C1 ", "X"], strict=True))
    )
    assert row.fields == {"case_number": "C1", "court_name": "X"}


def test_a_penalty_row_maps_to_our_names_with_descriptive_columns_in_extra() -> None:
    row = map_row(
        "admin_penalty",
        penalty(
            XDR_MC="吉首市顺安万象医药有限公司",
            FRDB="林娜娜",
            CF_WFXW="超范围经营",
            CF_SY="超出核准登记的经营范围从事经营活动",
            CF_YJ="《市场主体登记管理条例》第四十六条",
            CF_CFLB="警告",
            CF_NR="警告",
            CF_NR_FK="",
            CF_NR_ZKDX="食品经营许可证 JY123",
            severity="general",
            CF_GSJZQ="2026-09-10",
            CF_CFJG="吉首市市场监督管理局",
            CF_CFJGDM="114331010000100066",
            CF_SJLY="吉首市市场监督管理局",
            BZ="",
        ),
    )
    assert row == Row(
        subject_code="91433101MAQJF8398T",
        source_ref="吉首市监罚〔2025〕1000号",
        decided_on="2025-09-10",
        fields={
            "violation_type": "超范围经营",
            "violation_facts": "超出核准登记的经营范围从事经营活动",
            "legal_basis": "《市场主体登记管理条例》第四十六条",
            "penalty_kinds": ["warning"],
            "penalty_content": "警告",
            "suspended_licences": "食品经营许可证 JY123",
            "severity": "general",
            "publicity_deadline": "2026-09-10",
            "deciding_authority": "吉首市市场监督管理局",
            "deciding_authority_code": "114331010000100066",
        },
        extra={
            "xdr_mc": "吉首市顺安万象医药有限公司",
            "frdb": "林娜娜",
            "cf_sjly": "吉首市市场监督管理局",
        },
    )


def test_rows_are_frozen() -> None:
    row = map_row("admin_penalty", penalty())
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.subject_code = "x"  # type: ignore[misc]


def test_cells_are_stripped_and_empty_cells_omitted() -> None:
    row = map_row(
        "admin_penalty", penalty(XDR_SHXYM=" 91433101MAQJF8398T\t", CF_SY="  ", CF_YJ=None)
    )
    assert row.subject_code == "91433101MAQJF8398T"
    assert row.fields == {}


def test_our_names_work_as_keys_too() -> None:
    row = map_row(
        "admin_license",
        {
            "subject_code": "91310115MA7F0KKN33",
            "source_ref": "上海许〔2026〕2000号",
            "decided_on": dt.date(2026, 10, 3),
            "license_category": "特许",
            "XK_YXQZ": dt.datetime(2026, 10, 3, 0, 0),
        },
    )
    assert row.decided_on == "2026-10-03"
    assert row.fields == {"license_category": "special", "valid_from": "2026-10-03"}


def test_missing_row_columns_are_empty_strings_for_validation_to_reject() -> None:
    row = map_row("admin_penalty", {"CF_WFXW": "x"})
    assert (row.subject_code, row.source_ref, row.decided_on) == ("", "", "")


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("警告", "warning"),
        ("通报批评", "public_criticism"),
        ("罚款", "fine"),
        ("没收违法所得", "confiscation"),
        ("没收非法财物", "confiscation"),
        ("没收违法所得、没收非法财物", "confiscation"),
        ("暂扣许可证件", "license_withholding"),
        ("降低资质等级", "qualification_downgrade"),
        ("吊销许可证件", "license_revocation"),
        ("吊销营业执照", "license_revocation"),
        ("限制开展生产经营活动", "business_restriction"),
        ("责令停产停业", "suspension"),
        ("责令关闭", "closure"),
        ("限制从业", "practice_restriction"),
        ("行政拘留", "detention"),
        ("其他", "other"),
        ("fine", "fine"),
    ],
)
def test_each_penalty_kind_maps_to_its_code(name: str, code: str) -> None:
    assert map_row("admin_penalty", penalty(CF_CFLB=name)).fields["penalty_kinds"] == [code]


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("罚款;没收违法所得、没收非法财物", ["fine", "confiscation"]),
        ("罚款；责令停产停业", ["fine", "suspension"]),
        ("罚款, 警告", ["fine", "warning"]),
        ("罚款;罚款;没收违法所得;没收非法财物", ["fine", "confiscation"]),
        ("警告;", ["warning"]),
        ("罚款;游街示众", ["fine", "游街示众"]),
        ("警告、游街示众", ["警告、游街示众"]),
    ],
)
def test_several_kinds_become_a_deduplicated_list_and_unknown_kinds_stay(
    text: str, codes: list[str]
) -> None:
    assert map_row("admin_penalty", penalty(CF_CFLB=text)).fields["penalty_kinds"] == codes


def test_kinds_given_as_a_list_are_mapped_too() -> None:
    assert map_fields("admin_penalty", {"CF_CFLB": ["罚款", "fine", "警告"]}) == {
        "penalty_kinds": ["fine", "warning"]
    }


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("普通", "general"),
        ("特许", "special"),
        ("认可", "recognition"),
        ("核准", "approval"),
        ("登记", "registration"),
        ("其他", "other"),
        ("registration", "registration"),
        ("随便", "随便"),
    ],
)
def test_licence_categories_map_to_codes_and_unknown_ones_stay(name: str, code: str) -> None:
    row = map_row("admin_license", {"XK_XKLB": name})
    assert row.fields["license_category"] == code


@pytest.mark.parametrize(
    ("cell", "value"),
    [
        ("18.88", 18.88),
        (" 33 ", 33.0),
        ("1e2", 100.0),
        (12, 12.0),
        (0, 0.0),
        (2.5, 2.5),
        ("-1", -1.0),
        ("十万", "十万"),
        ("1,000", "1,000"),
        ("nan", "nan"),
        ("1_000", "1_000"),
    ],
)
def test_amounts_become_numbers_when_they_read_as_numbers(cell: object, value: object) -> None:
    fields = map_row("admin_penalty", penalty(CF_NR_FK=cell, CF_NR_WFFF=cell)).fields
    assert fields["fine_amount"] == value
    assert fields["confiscated_amount"] == value
    assert type(fields["fine_amount"]) is type(value)


def test_amounts_no_double_holds_are_kept_as_given_for_the_records_service_to_name() -> None:
    """An integer past a double's range made the whole upload fail (OverflowError)."""
    for cell in (10**400, -(10**400), math.inf, -math.inf):
        fields = map_row("admin_penalty", penalty(CF_NR_FK=cell)).fields
        assert fields["fine_amount"] == cell and type(fields["fine_amount"]) is type(cell)
    assert math.isnan(map_fields("admin_penalty", {"fine_amount": math.nan})["fine_amount"])


@pytest.mark.parametrize(
    ("cell", "value"),
    [
        (dt.datetime(2026, 10, 3, 0, 0), "2026-10-03"),
        (dt.datetime(2026, 10, 3, 15, 30), "2026-10-03"),
        (dt.date(2024, 2, 29), "2024-02-29"),
        ("2025-09-10", "2025-09-10"),
        ("2026-13-45", "2026-13-45"),
        ("2025/9/10", "2025/9/10"),
        (45678, "45678"),
    ],
)
def test_dates_from_spreadsheet_cells_become_iso_and_text_is_kept(cell: object, value: str) -> None:
    row = map_row(
        "admin_license",
        {"XDR_SHXYM": "x", "XK_WSH": "y", "XK_JDRQ": cell, "XK_YXQZ": cell, "XK_YXQZI": cell},
    )
    assert row.decided_on == value
    assert row.fields == {"valid_from": value, "valid_until": value}


def test_number_cells_in_text_fields_become_text() -> None:
    fields = map_row("admin_license", {"XK_XKBH": 12345678.0, "XK_ZT": 1}).fields
    assert fields == {"certificate_number": "12345678", "status": "1"}


def test_map_fields_maps_codes_and_keeps_unknown_keys_for_validation() -> None:
    assert map_fields(
        "admin_penalty", {"CF_YJ": " 条例 ", "fine_amount": "3", "colour": "red", "CF_SY": None}
    ) == {"legal_basis": "条例", "fine_amount": 3.0, "colour": "red"}


def test_the_fast_string_path_maps_like_the_general_one() -> None:
    with (samples.SAMPLES / "admin_penalties.csv").open(encoding="utf-8-sig", newline="") as f:
        header, *rows = list(csv.reader(f))
    rows.append([f" {c} " for c in rows[0]])
    plan = ColumnPlan("admin_penalty", header)
    for cells in rows:
        fast = plan.map_strings(cells)
        assert fast == plan.map_values(cells)
        assert fast == map_row("admin_penalty", dict(zip(header, cells, strict=True)))
