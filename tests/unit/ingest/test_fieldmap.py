"""Mapping of national 双公示 columns and values to record rows."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import math

import pytest

from credit_common.ingest.fieldmap import (
    NATIONAL_FIELDS,
    OLD_TEXT_CELLS_MARK,
    REQUIRED_COLUMNS,
    ColumnPlan,
    Row,
    RowProblem,
    check_header,
    detect_item,
    from_text_cells,
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


# --- the Chinese names DOMAIN.md gives in brackets ----------------------------------

COURT_HEADER = ["subject_code", "source_ref", "decided_on", "案号", "court_name"]


def test_a_chinese_field_name_in_brackets_is_a_header_for_its_field() -> None:
    """DOMAIN.md: court_dishonest's `case_number` (案号); a 案号 column stayed an unknown
    field ("Additional properties ... '案号'", "case_number required")."""
    assert check_header("court_dishonest", COURT_HEADER) == []
    cells = ["S", "R", "2026-04-01", " (2026)沪0115执1号 ", "某法院"]
    plan = ColumnPlan("court_dishonest", COURT_HEADER)
    assert plan.map_values(cells).fields == {
        "case_number": "(2026)沪0115执1号",
        "court_name": "某法院",
    }
    assert map_fields("court_dishonest", {"案号": "(2026)沪0115执1号"}) == {
        "case_number": "(2026)沪0115执1号"
    }


def test_a_field_given_by_its_chinese_name_and_its_name_is_a_header_problem() -> None:
    assert check_header("court_dishonest", [*COURT_HEADER, "case_number"]) == [
        "column 'case_number' repeats column '案号'"
    ]


# --- a field given twice in NDJSON fields -------------------------------------------


def test_a_field_given_by_its_code_and_its_name_in_fields_is_a_problem_naming_both() -> None:
    """Both values went in, the later silently winning (fine_amount 100.0, 《乙法》)."""
    with pytest.raises(RowProblem) as raised:
        map_fields(
            "admin_penalty",
            {"CF_NR_FK": 10, "fine_amount": 100, "CF_YJ": "《甲法》", "legal_basis": "《乙法》"},
        )
    assert raised.value.problems == [
        "fields 'CF_NR_FK' and 'fine_amount' both give fine_amount: give it once",
        "fields 'CF_YJ' and 'legal_basis' both give legal_basis: give it once",
    ]


@pytest.mark.parametrize(
    ("item", "fields", "named"),
    [
        ("court_dishonest", {"case_number": "A", "案号": "B"}, ("case_number", "案号")),
        ("admin_license", {"XK_NR": "甲", "content": None}, ("XK_NR", "content")),
        (
            "admin_penalty",
            {"legal_basis": "甲", "Legal_Basis ": "乙"},
            ("legal_basis", "Legal_Basis "),
        ),
    ],
)
def test_any_field_given_twice_in_fields_is_a_problem(
    item: str, fields: dict[str, object], named: tuple[str, str]
) -> None:
    with pytest.raises(RowProblem) as raised:
        map_fields(item, fields)
    [problem] = raised.value.problems
    assert f"{named[0]!r} and {named[1]!r}" in problem


def test_a_field_given_once_is_no_problem() -> None:
    assert map_fields("court_dishonest", {"case_number": "A", "court_name": "B"}) == {
        "case_number": "A",
        "court_name": "B",
    }


def test_the_old_text_cells_mark_is_no_column_nor_field() -> None:
    header = ["subject_code", "source_ref", "decided_on", OLD_TEXT_CELLS_MARK]
    assert check_header("tax_credit_grade", header) == [
        f"column {OLD_TEXT_CELLS_MARK!r}: a reserved name, not a field"
    ]
    with pytest.raises(RowProblem):
        map_fields("tax_credit_grade", {OLD_TEXT_CELLS_MARK: True, "year": "2025"})


# --- text cells of items without national codes -------------------------------------

TAX_HEADER = ["subject_code", "source_ref", "decided_on", "grade", "year"]


def test_the_text_cells_of_an_item_without_national_codes_are_marked() -> None:
    """The records service knows the item's schema, the gateway does not: the rows of a
    CSV file or a spreadsheet say their values are text to convert; NDJSON's do not."""
    cells = ["S", "R", "2026-04-01", "A", "2025"]
    text = ColumnPlan("tax_credit_grade", TAX_HEADER, text_cells=True)
    for row in (text.map_strings(cells), text.map_values(cells)):
        assert row.text_cells and row.fields == {"grade": "A", "year": "2025"}
    typed = map_row(
        "tax_credit_grade", dict(zip(TAX_HEADER, ["S", "R", "2026-04-01", "A", 2025], strict=True))
    )
    assert not typed.text_cells and typed.fields == {"grade": "A", "year": 2025}
    assert map_fields("tax_credit_grade", {"year": "2025"}) == {"year": "2025"}
    # the national items' values are converted here, as they were
    penalty_plan = ColumnPlan(
        "admin_penalty", ["XDR_SHXYM", "CF_WSH", "CF_JDRQ", "CF_NR_FK"], text_cells=True
    )
    penalty = penalty_plan.map_strings(["S", "R", "2026-04-01", "1.5"])
    assert not penalty.text_cells and penalty.fields == {"fine_amount": 1.5}


SCHEMAS = {
    "tax_credit_grade": {
        "type": "object",
        "properties": {
            "grade": {"enum": ["A", "B", "M", "C", "D"]},
            "year": {"type": "integer", "minimum": 2000, "maximum": 2100},
            "evaluating_authority": {"type": "string"},
        },
    },
    "social_insurance_arrears": {
        "type": "object",
        "properties": {
            "amount": {"type": "number", "minimum": 0},
            "period_from": {"type": "string", "format": "date"},
            "insurance_kinds": {"type": "array", "items": {"type": "string"}},
        },
    },
    "credit_commitment": {
        "type": "object",
        "properties": {"content": {"type": "string"}, "fulfilled": {"type": "boolean"}},
    },
}


@pytest.mark.parametrize(
    ("item", "fields", "converted"),
    [
        ("tax_credit_grade", {"grade": "A", "year": "2025"}, {"grade": "A", "year": 2025}),
        ("tax_credit_grade", {"year": "2025.0"}, {"year": 2025}),
        ("tax_credit_grade", {"year": 2025.0}, {"year": 2025}),
        ("tax_credit_grade", {"evaluating_authority": 12345}, {"evaluating_authority": "12345"}),
        ("social_insurance_arrears", {"amount": "1234.5"}, {"amount": 1234.5}),
        ("social_insurance_arrears", {"amount": "1234"}, {"amount": 1234}),
        ("social_insurance_arrears", {"amount": "-1e3"}, {"amount": -1000.0}),
        (
            "social_insurance_arrears",
            {"insurance_kinds": "养老保险; 医疗保险，失业保险"},
            {"insurance_kinds": ["养老保险", "医疗保险", "失业保险"]},
        ),
        ("social_insurance_arrears", {"insurance_kinds": " ; ；"}, {}),
        ("social_insurance_arrears", {"period_from": "2025-01-01"}, {"period_from": "2025-01-01"}),
        ("credit_commitment", {"fulfilled": "true"}, {"fulfilled": True}),
        ("credit_commitment", {"fulfilled": "FALSE"}, {"fulfilled": False}),
        ("credit_commitment", {"fulfilled": "是"}, {"fulfilled": True}),
        ("credit_commitment", {"fulfilled": "0"}, {"fulfilled": False}),
        ("credit_commitment", {"content": "1"}, {"content": "1"}),
        ("credit_commitment", {"colour": "1"}, {"colour": "1"}),
    ],
)
def test_text_cells_are_converted_by_their_property_type(
    item: str, fields: dict[str, object], converted: dict[str, object]
) -> None:
    assert from_text_cells(SCHEMAS[item], fields) == (converted, [])


@pytest.mark.parametrize(
    ("item", "fields", "problem"),
    [
        ("tax_credit_grade", {"year": "20x5"}, ("fields.year", "'20x5' is not an integer")),
        ("tax_credit_grade", {"year": "2025.5"}, ("fields.year", "'2025.5' is not an integer")),
        (
            "social_insurance_arrears",
            {"amount": "12万"},
            ("fields.amount", "'12万' is not a number"),
        ),
        ("social_insurance_arrears", {"amount": "NaN"}, ("fields.amount", "'NaN' is not a number")),
        (
            "credit_commitment",
            {"fulfilled": "maybe"},
            ("fields.fulfilled", "'maybe' is not a boolean (true or false, 是 or 否, 1 or 0)"),
        ),
    ],
)
def test_a_text_cell_that_is_not_of_its_type_is_named_and_kept(
    item: str, fields: dict[str, object], problem: tuple[str, str]
) -> None:
    assert from_text_cells(SCHEMAS[item], fields) == (fields, [problem])


def test_integers_and_booleans_come_out_as_their_python_types() -> None:
    tax = SCHEMAS["tax_credit_grade"]
    assert [type(from_text_cells(tax, {"year": y})[0]["year"]) for y in ("2025", 2025.0)] == [
        int,
        int,
    ]
    fulfilled = from_text_cells(SCHEMAS["credit_commitment"], {"fulfilled": "1"})[0]
    assert fulfilled["fulfilled"] is True


def test_numbers_no_double_holds_are_named_not_converted() -> None:
    schema = SCHEMAS["social_insurance_arrears"]
    for text in ("1e400", "9" * 400, "9" * 5000):
        [(path, message)] = from_text_cells(schema, {"amount": text})[1]
        assert path == "fields.amount" and "not a finite number" in message
        assert len(message) < 200


def test_list_items_are_converted_by_the_items_schema() -> None:
    schema = {"properties": {"codes": {"type": "array", "items": {"type": "integer"}}}}
    assert from_text_cells(schema, {"codes": "1;2"}) == ({"codes": [1, 2]}, [])
    assert from_text_cells(schema, {"codes": "1;x"}) == (
        {"codes": [1, "x"]},
        [("fields.codes.1", "'x' is not an integer")],
    )


# --- natural persons in the national format -----------------------------------------

PERSON_HEADER = [
    "XDR_MC",
    "XDR_LB",
    "XDR_SHXYM",
    "XDR_ZJLX",
    "XDR_ZJHM",
    "CF_WSH",
    "CF_JDRQ",
    "CF_WFXW",
]
ID_NUMBER = "11010519491231002X"


def person_cells(**cells: str) -> list[str]:
    row = {
        "XDR_MC": "张三",
        "XDR_LB": "自然人",
        "XDR_SHXYM": "",
        "XDR_ZJLX": "身份证",
        "XDR_ZJHM": ID_NUMBER,
        "CF_WSH": "杭公罚〔2026〕1号",
        "CF_JDRQ": "2026-11-20",
        "CF_WFXW": "无证经营",
    }
    row.update(cells)
    return [row[h] for h in PERSON_HEADER]


def mapped(cells: list[str], header: list[str] = PERSON_HEADER) -> list[Row]:
    """The row by each of the three ways in: CSV's fast path, cells, and a flat mapping."""
    plan = ColumnPlan("admin_penalty", header, text_cells=True)
    return [
        plan.map_strings(cells),
        plan.map_values(cells),
        map_row("admin_penalty", dict(zip(header, cells, strict=True))),
    ]


@pytest.mark.parametrize("document", ["身份证", "居民身份证", "001", "01"])
def test_a_natural_person_without_a_code_is_loaded_by_the_identity_card_number(
    document: str,
) -> None:
    """The national format leaves XDR_SHXYM empty for a 自然人: the row was rejected
    "subject_code: required"."""
    for row in mapped(person_cells(XDR_ZJLX=document)):
        assert row.subject_code == ID_NUMBER
        assert row.extra == {"xdr_mc": "张三", "xdr_lb": "自然人", "xdr_zjlx": document}
        assert row.fields == {"violation_type": "无证经营"}


def test_the_prefixed_columns_of_the_2021_standard_name_a_person_too() -> None:
    header = [f"CF_{h}" if h.startswith("XDR_") and h != "XDR_SHXYM" else h for h in PERSON_HEADER]
    for row in mapped(person_cells(), header):
        assert row.subject_code == ID_NUMBER
        assert "cf_xdr_zjhm" not in row.extra


@pytest.mark.parametrize("document", ["护照", "002", "港澳居民来往内地通行证"])
def test_a_natural_person_by_another_document_is_a_problem_never_quoting_the_number(
    document: str,
) -> None:
    plan = ColumnPlan("admin_penalty", PERSON_HEADER, text_cells=True)
    cells = person_cells(XDR_ZJLX=document, XDR_ZJHM="E12345678")
    for mapping in (plan.map_strings, plan.map_values):
        with pytest.raises(RowProblem) as raised:
            mapping(cells)
        [problem] = raised.value.problems
        assert "only a natural person with an identity card" in problem
        assert repr(document) in problem and "XDR_SHXYM" in problem
        assert "E12345678" not in problem


def test_a_person_number_without_its_document_type_is_a_problem() -> None:
    plan = ColumnPlan("admin_penalty", PERSON_HEADER, text_cells=True)
    with pytest.raises(RowProblem) as raised:
        plan.map_strings(person_cells(XDR_ZJLX=""))
    assert "XDR_ZJLX does not say what XDR_ZJHM holds" in raised.value.problems[0]
    assert ID_NUMBER not in raised.value.problems[0]


def test_a_row_with_a_code_or_naming_no_person_keeps_its_subject_column() -> None:
    code = "91433101MAQJF8398T"
    with_code = mapped(person_cells(XDR_SHXYM=code))
    assert all(r.subject_code == code and r.extra["xdr_zjhm"] == ID_NUMBER for r in with_code)
    organisation = mapped(person_cells(XDR_LB="法人及非法人组织", XDR_ZJLX="护照"))
    assert all(r.subject_code == "" for r in organisation)
    no_number = mapped(person_cells(XDR_ZJHM="", XDR_ZJLX="护照"))
    assert all(r.subject_code == "" for r in no_number)
