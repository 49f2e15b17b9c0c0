"""Streaming readers over the departments' sample files and broken variants of them."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import re
import zipfile
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable
from pathlib import Path

import openpyxl
import pytest

from credit_common.ingest import xlsx_reader
from credit_common.ingest.csv_reader import read_csv
from credit_common.ingest.fieldmap import NATIONAL_FIELDS, OLD_TEXT_CELLS_MARK, PENALTY_KINDS
from credit_common.ingest.ndjson_reader import MAX_NESTING, read_ndjson
from credit_common.ingest.rows import (
    Detected,
    HeaderError,
    ItemRequired,
    ParsedRow,
    TooLarge,
    UnreadableSpreadsheet,
)
from credit_common.ingest.spool import spool_to_file
from credit_common.ingest.xlsx_reader import read_xlsx
from support import samples, workbooks

PENALTIES = samples.SAMPLES / "admin_penalties.csv"
LICENSES = samples.SAMPLES / "admin_licenses.xlsx"
BROKEN = json.loads((samples.SAMPLES / "broken_rows.json").read_text(encoding="utf-8"))
ISO = re.compile(r"\d{4}-\d{2}-\d{2}")


async def chunked(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def collect(rows: AsyncIterator[ParsedRow]) -> list[ParsedRow]:
    return [row async for row in rows]


def raw_penalties() -> list[dict[str, str]]:
    with PENALTIES.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def csv_bytes(rows: Iterable[list[str]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode(encoding)


def sample_table() -> list[list[str]]:
    with PENALTIES.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


# --- the penalties CSV --------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 7, 4093, 1 << 20])
async def test_the_penalty_sample_reads_the_same_whatever_the_chunk_boundaries(size: int) -> None:
    data = PENALTIES.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = await collect(read_csv(chunked(data, size)))
    assert [r.number for r in rows] == list(range(1, 301))
    assert all(r.errors == [] and r.row is not None for r in rows)
    whole = await collect(read_csv(chunked(data, len(data)), "admin_penalty"))
    assert [r.row for r in rows] == [r.row for r in whole]


async def test_each_national_field_comes_out_in_as_many_rows_as_the_file_fills_it() -> None:
    rows = await collect(read_csv(chunked(PENALTIES.read_bytes(), 7)))
    raw = raw_penalties()
    expected = {
        name: sum(1 for r in raw if r[code].strip())
        for code, name in NATIONAL_FIELDS["admin_penalty"].items()
    }
    expected["severity"] = 300
    found = Counter(name for r in rows if r.row for name in r.row.fields)
    assert {name: found[name] for name in expected} == expected
    assert expected["legal_basis"] == 299  # row 121 lacks it on purpose
    assert expected["fine_amount"] == 147
    assert expected["confiscated_amount"] == 0


async def test_row_columns_and_descriptive_columns_come_out_as_in_the_file() -> None:
    rows = await collect(read_csv(chunked(PENALTIES.read_bytes(), 7)))
    for parsed, raw in zip(rows, raw_penalties(), strict=True):
        row = parsed.row
        assert row is not None
        assert row.subject_code == raw["XDR_SHXYM"]
        assert row.source_ref == raw["CF_WSH"]
        assert row.decided_on == raw["CF_JDRQ"]
        assert row.extra["xdr_mc"] == raw["XDR_MC"]
        assert row.extra["xdr_lb"] == raw["XDR_LB"]
        assert row.extra["cf_sjly"] == raw["CF_SJLY"]
        if raw["CF_NR_FK"]:
            assert row.fields["fine_amount"] == float(raw["CF_NR_FK"])


async def test_penalty_kinds_come_out_as_codes() -> None:
    rows = await collect(read_csv(chunked(PENALTIES.read_bytes(), 7)))
    kinds: Counter[tuple[str, ...]] = Counter(
        tuple(r.row.fields["penalty_kinds"])  # type: ignore[arg-type]
        for r in rows
        if r.row
    )
    assert set(code for combo in kinds for code in combo) <= set(PENALTY_KINDS.values())
    raw = Counter(r["CF_CFLB"] for r in raw_penalties())
    assert kinds[("fine", "confiscation")] == raw["罚款;没收违法所得、没收非法财物"]
    assert kinds[("fine", "suspension")] == raw["罚款;责令停产停业"]
    assert kinds[("warning",)] == raw["警告"]
    assert sum(kinds.values()) == 300


async def test_the_rows_broken_on_purpose_still_parse_for_validation_to_reject() -> None:
    rows = await collect(read_csv(chunked(PENALTIES.read_bytes(), 7)))
    broken = {int(n) for n in BROKEN["admin_penalties.csv"]}
    assert broken == {17, 42, 88, 121, 200, 251}
    assert [r.number for r in rows if r.errors] == []
    by_number = {r.number: r.row for r in rows}
    assert by_number[42] and by_number[42].fields["severity"] == "catastrophic"
    assert by_number[88] and by_number[88].decided_on == "2026-13-45"
    assert by_number[121] and "legal_basis" not in by_number[121].fields
    assert by_number[251] and by_number[11]
    assert by_number[251].source_ref == by_number[11].source_ref


# --- the licences workbook ----------------------------------------------------------


def test_the_licence_sample_gives_200_rows_with_iso_dates() -> None:
    rows = list(read_xlsx(LICENSES))
    assert [r.number for r in rows] == list(range(1, 201))
    assert all(r.errors == [] and r.row is not None for r in rows)
    workbook = openpyxl.load_workbook(LICENSES, read_only=True, data_only=True)
    raw = list(workbook["行政许可"].iter_rows(values_only=True))
    workbook.close()
    header, data = raw[0], raw[1:]
    for parsed, values in zip(rows, data, strict=True):
        row = parsed.row
        assert row is not None
        cells = dict(zip(header, values, strict=True))
        assert isinstance(cells["XK_JDRQ"], dt.datetime)
        assert row.decided_on == cells["XK_JDRQ"].date().isoformat()
        assert row.fields["valid_from"] == cells["XK_YXQZ"].date().isoformat()  # type: ignore[union-attr]
        assert row.fields["valid_until"] == cells["XK_YXQZI"].date().isoformat()  # type: ignore[union-attr]
        assert ISO.fullmatch(row.decided_on)
        assert row.subject_code == cells["XDR_SHXYM"]
        assert row.source_ref == cells["XK_WSH"]
        assert row.extra["xk_lydw"] == cells["XK_LYDW"]


def test_licence_fields_are_counted_and_categories_mapped() -> None:
    rows = [r.row for r in read_xlsx(LICENSES, "admin_license", sheet="行政许可") if r.row]
    found = Counter(name for row in rows for name in row.fields)
    assert found == {
        "document_name": 200,
        "license_category": 200,
        "certificate_name": 200,
        "certificate_number": 200,
        "content": 199,  # row 60 lacks it on purpose
        "valid_from": 200,
        "valid_until": 200,
        "licensing_authority": 200,
        "status": 200,
    }
    categories = Counter(row.fields["license_category"] for row in rows)
    assert categories == {"general": 112, "special": 49, "recognition": 38, "随便": 1}
    assert rows[9].fields["license_category"] == "随便"  # row 10: validation rejects it
    assert {int(n) for n in BROKEN["admin_licenses.xlsx"]} == {10, 60, 150}


def make_workbook(path: Path, rows: list[list[object]], title: str = "Sheet") -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    for values in rows:
        sheet.append(values)
    workbook.save(path)
    return path


def test_empty_sheet_rows_are_skipped_without_counting(tmp_path: Path) -> None:
    path = make_workbook(
        tmp_path / "l.xlsx",
        [
            [None, None],
            ["XDR_SHXYM", "XK_WSH", "XK_JDRQ", "XK_XKLB", "XK_XKBH"],
            ["A", "1", dt.date(2025, 1, 2), "核准", 1234],
            [None, None, None],
            ["B", "2", "2025-01-03", "登记", None, None, "beyond"],
            ["C", "3", dt.datetime(2025, 1, 4), "其他"],
        ],
    )
    rows = list(read_xlsx(path))
    assert [r.number for r in rows] == [1, 2, 3]
    assert rows[0].row and rows[0].row.fields == {
        "license_category": "approval",
        "certificate_number": "1234",
    }
    assert rows[1].row is None
    assert rows[1].errors == ["a value in column 7, beyond the header's 5 columns"]
    assert rows[2].row and rows[2].row.decided_on == "2025-01-04"


def test_a_workbook_with_a_wrong_header_or_sheet_raises(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "l.xlsx", [["XDR_SHXYM", "XK_WSH", "XK_JDRQ", "XK_FOO"]])
    with pytest.raises(HeaderError, match="XK_FOO"):
        list(read_xlsx(path))
    with pytest.raises(UnreadableSpreadsheet, match="no sheet named 'x'"):
        list(read_xlsx(LICENSES, sheet="x"))
    with pytest.raises(HeaderError, match="empty"):
        list(read_xlsx(make_workbook(tmp_path / "e.xlsx", [])))


def test_a_file_that_is_not_a_workbook_raises(tmp_path: Path) -> None:
    path = tmp_path / "upload.bin"
    path.write_bytes(PENALTIES.read_bytes())
    with pytest.raises(HeaderError, match=r"not a readable \.xlsx workbook"):
        list(read_xlsx(path))


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(lambda: workbooks.halved(LICENSES.read_bytes()), id="file_cut_off"),
        pytest.param(lambda: workbooks.licences_with(workbooks.SHEET, None), id="no_worksheet"),
        pytest.param(
            lambda: workbooks.licences_with(workbooks.WORKBOOK, workbooks.halved),
            id="workbook_xml_cut",
        ),
        pytest.param(
            lambda: workbooks.licences_with(workbooks.SHEET, lambda xml: xml[:400]),
            id="sheet_cut_in_header",
        ),
    ],
)
def test_a_file_that_is_no_readable_workbook_raises_before_any_row(
    tmp_path: Path, body: Callable[[], bytes]
) -> None:
    path = tmp_path / "upload.xlsx"
    path.write_bytes(body())
    with pytest.raises(UnreadableSpreadsheet):
        next(read_xlsx(path))


@pytest.mark.parametrize(
    ("body", "read"),
    [
        pytest.param(
            lambda: workbooks.licences_with(workbooks.SHEET, workbooks.cut_in_data_row(100)),
            99,
            id="cell_cut",
        ),
        pytest.param(
            lambda: workbooks.licences_with(workbooks.SHEET, workbooks.halved), 100, id="xml_cut"
        ),
        pytest.param(workbooks.licences_with_a_corrupt_sheet_member, None, id="corrupt_member"),
    ],
)
def test_a_sheet_broken_part_way_ends_with_an_error_row_after_the_rows_before(
    tmp_path: Path, body: Callable[[], bytes], read: int | None
) -> None:
    """The parser's error (ParseError, zlib.error, BadZipFile...) came out of the reader
    in the middle of an upload: a 500 once the stream to the records service was open."""
    path = tmp_path / "upload.xlsx"
    path.write_bytes(body())
    rows = list(read_xlsx(path))
    *before, last = rows
    assert [r.number for r in rows] == list(range(1, len(rows) + 1))
    assert 0 < len(before) < 200 and (read is None or len(before) == read)
    assert all(r.row is not None for r in before)
    assert last.row is None and len(last.errors) == 1
    assert last.errors[0].startswith("the sheet breaks off here and cannot be read on")


def test_a_workbook_whose_shared_strings_unpack_past_the_limit_is_refused_unread(
    tmp_path: Path,
) -> None:
    """A zip bomb: 3.6 MB of .xlsx whose shared strings unpacked to 1 GB took the gateway
    to 2.7 GB of memory and 100 s of CPU before its 422 (openpyxl keeps them all). Here
    65 MiB of them in about 64 KB of zip: refused from the sizes the zip declares."""
    strings = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
    out = io.BytesIO()
    with zipfile.ZipFile(LICENSES) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "[Content_Types].xml":  # as Excel writes it: a strings part
                data = data.replace(
                    b"</Types>",
                    f'<Override PartName="/xl/sharedStrings.xml" ContentType="{strings}"/>'
                    "</Types>".encode(),
                )
            target.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
        padding = b" " * (xlsx_reader.MAX_XLSX_SHARED_STRINGS + 1024)
        target.writestr(
            "xl/sharedStrings.xml", b"<sst>" + padding + b"</sst>", zipfile.ZIP_DEFLATED
        )
    bomb = out.getvalue()
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(bomb)
    assert path.stat().st_size < 1 << 20
    with pytest.raises(UnreadableSpreadsheet, match=r"shared strings .* unpack to more than"):
        next(read_xlsx(path))


def test_a_workbook_unpacking_past_the_limit_in_all_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xlsx_reader, "MAX_XLSX_UNPACKED", 150_000)  # the sample unpacks to 201,922
    with pytest.raises(UnreadableSpreadsheet, match=r"unpacks to more than .*: send .* as CSV"):
        next(read_xlsx(LICENSES))


def test_a_workbook_spooled_under_another_suffix_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "upload.tmp"
    path.write_bytes(LICENSES.read_bytes())
    assert sum(1 for _ in read_xlsx(path)) == 200


# --- broken and unusual CSV ---------------------------------------------------------


async def test_a_csv_with_a_wrong_header_raises_naming_the_column() -> None:
    table = sample_table()
    table[0][6] = "CF_SHIYOU"
    with pytest.raises(HeaderError) as raised:
        await collect(read_csv(chunked(csv_bytes(table), 7)))
    assert any("'CF_SHIYOU'" in p for p in raised.value.problems)


async def test_a_csv_without_the_decision_number_column_raises() -> None:
    table = [[c for i, c in enumerate(r) if i != 4] for r in sample_table()]
    with pytest.raises(HeaderError, match="missing required column CF_WSH"):
        await collect(read_csv(chunked(csv_bytes(table), 7)))


async def test_a_header_of_our_names_needs_the_item_named() -> None:
    data = csv_bytes([["subject_code", "source_ref", "decided_on"], ["a", "b", "c"]])
    with pytest.raises(HeaderError, match="cannot tell the catalog item"):
        await collect(read_csv(chunked(data, 7)))
    rows = await collect(read_csv(chunked(data, 7), "admin_penalty"))
    assert rows[0].row and rows[0].row.source_ref == "b"


ITEM_TABLE = [
    ["subject_code", "item_code", "source_ref", "decided_on", "grade", "year"],
    ["91310115MA8BRK2A83", "tax_credit_grade", "T-1", "2026-04-01", "A", "2025"],
    ["91310115MA8BRK2A83", "", "T-2", "2026-04-01", "B", "2024"],
    ["91310115MA8BRK2A83", "admin_penalty", "T-3", "2026-04-01", "C", "2024"],
    ["91310115MA8BRK2A83", "tax_credit_grade", "T-4", "2026-04-01", "D", "2024"],
]


def _read_by_item_column(rows: list[ParsedRow]) -> list[object]:
    return [(r.number, r.row.source_ref, r.row.fields) if r.row else r.errors for r in rows]


BY_ITEM_COLUMN = [
    (1, "T-1", {"grade": "A", "year": "2025"}),
    (2, "T-2", {"grade": "B", "year": "2024"}),
    ["item_code 'admin_penalty' is not the upload's item 'tax_credit_grade'"],
    (4, "T-4", {"grade": "D", "year": "2024"}),
]


@pytest.mark.parametrize("size", [3, 64, 4096])
async def test_a_csv_with_an_item_code_column_is_of_its_first_rows_item(size: int) -> None:
    """A header of our names with item_code, as in the body of a single record: the first
    row names the upload's item; the column is not a field; a row naming another item is
    that row's error, a blank cell names none."""
    detected = Detected()
    rows = await collect(read_csv(chunked(csv_bytes(ITEM_TABLE), size), None, detected))
    assert detected.item_code == "tax_credit_grade"
    assert _read_by_item_column(rows) == BY_ITEM_COLUMN
    # Named by the caller too: the column is checked against that.
    named = await collect(read_csv(chunked(csv_bytes(ITEM_TABLE), size), "tax_credit_grade"))
    assert _read_by_item_column(named) == BY_ITEM_COLUMN
    blank_first = [ITEM_TABLE[0], ITEM_TABLE[2], *ITEM_TABLE[1:2]]
    with pytest.raises(ItemRequired):
        await collect(read_csv(chunked(csv_bytes(blank_first), size)))
    assert await collect(read_csv(chunked(csv_bytes(ITEM_TABLE[:1]), size))) == []


async def test_a_csv_rows_unreadable_before_its_item_is_known_are_errors_of_their_own() -> None:
    """While the first row is still to name the item, a row of the wrong width or with an
    unclosed quote is that row's error (and names no item), as after it."""
    header = ",".join(ITEM_TABLE[0])
    rows_1_2 = [",".join(r) for r in ITEM_TABLE[1:3]]
    # A stray comma before the item_code column: its cell there is no item.
    wide = "91310115MA8BRK2A83,X,tax_credit_grade,T-0,2026-04-01,A,2025"
    # A quote that closes two lines on, in a record of the wrong width: an unclosed quote,
    # which must not take the line after it along.
    unclosed = '91310115MA8BRK2A83,tax_credit_grade,"T-0,2026-04-01,A,2025'
    short = '91310115MA8BRK2A83,tax_credit_grade,"T-9",2026-04-01,B'
    cases = [
        ([wide, *rows_1_2], "row has 7 columns", ["T-1", "T-2"]),
        ([unclosed, rows_1_2[0], short], "unterminated quoted field", ["T-1"]),
    ]
    for lines, error, stored in cases:
        data = "\n".join([header, *lines]).encode()
        for size in (3, 4096):
            rows = await collect(read_csv(chunked(data, size), None))
            assert [r.number for r in rows] == [1, 2, 3], (lines[0], size)
            assert rows[0].row is None and rows[0].errors[0].startswith(error)
            assert [r.row.source_ref for r in rows[1:] if r.row] == stored


def test_a_sheet_with_an_item_code_column_is_of_its_first_rows_item(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "t.xlsx", [ITEM_TABLE[0], [None] * 6, *ITEM_TABLE[1:]])
    detected = Detected()
    rows = list(read_xlsx(path, None, detected=detected))
    assert detected.item_code == "tax_credit_grade"
    assert _read_by_item_column(rows) == BY_ITEM_COLUMN
    blank_first = make_workbook(tmp_path / "b.xlsx", [ITEM_TABLE[0], *ITEM_TABLE[2:]])
    with pytest.raises(ItemRequired):
        list(read_xlsx(blank_first, None))
    assert list(read_xlsx(make_workbook(tmp_path / "h.xlsx", ITEM_TABLE[:1]), None)) == []


async def test_an_empty_csv_raises() -> None:
    with pytest.raises(HeaderError, match="empty"):
        await collect(read_csv(chunked(b"\xef\xbb\xbf\r\n\r\n", 1)))


async def test_a_row_with_an_extra_column_is_an_error_for_that_row_only() -> None:
    table = sample_table()[:11]
    table[4] = [*table[4], "surplus"]
    rows = await collect(read_csv(chunked(csv_bytes(table), 7)))
    assert [r.number for r in rows] == list(range(1, 11))
    assert [r.number for r in rows if r.errors] == [4]
    assert rows[3].row is None
    assert rows[3].errors == ["row has 22 columns, the header has 21"]
    assert rows[4].row and rows[4].row.source_ref == table[5][4]


async def test_an_unterminated_quote_is_an_error_for_that_row_only() -> None:
    lines = PENALTIES.read_bytes().decode("utf-8-sig").splitlines()[:11]
    cells = lines[4].split(",")
    cells[6] = '"' + cells[6]
    lines[4] = ",".join(cells)
    data = ("\r\n".join(lines) + "\r\n").encode()
    rows = await collect(read_csv(chunked(data, 7)))
    assert [r.number for r in rows] == list(range(1, 11))
    assert [r.number for r in rows if r.errors] == [4]
    assert "unterminated quoted field" in rows[3].errors[0]
    assert [r.row.source_ref for r in rows[4:] if r.row] == [
        line.split(",")[4] for line in lines[5:]
    ]


async def test_an_unterminated_quote_in_the_last_row_is_an_error_for_it() -> None:
    data = b'XDR_SHXYM,CF_WSH,CF_JDRQ\na,1,2025-01-01\nb,"2,2025-01-02\n'
    rows = await collect(read_csv(chunked(data, 3)))
    assert rows[0].row and rows[0].row.subject_code == "a"
    assert rows[1].number == 2
    assert rows[1].row is None
    assert "unterminated" in rows[1].errors[0]


async def test_an_unclosed_quote_followed_by_a_quoted_field_still_recovers() -> None:
    data = (
        b"XDR_SHXYM,CF_WSH,CF_JDRQ,CF_SY\n"
        b'a,1,2025-01-01,"oops\n'
        b'b,2,2025-01-02,"x, ""y"""\n'
        b"c,3,2025-01-03,z\n"
    )
    rows = await collect(read_csv(chunked(data, 5)))
    assert [(r.number, bool(r.errors)) for r in rows] == [(1, True), (2, False), (3, False)]
    assert rows[1].row and rows[1].row.fields == {"violation_facts": 'x, "y"'}


async def test_quoted_fields_may_hold_commas_quotes_and_line_breaks() -> None:
    table = [
        ["XDR_SHXYM", "CF_WSH", "CF_JDRQ", "CF_SY", "CF_CFLB"],
        [
            "91433101MAQJF8398T",
            "罚〔2025〕1号",
            "2025-01-01",
            "第一行\r\n第二行，含“引号”",
            "罚款;警告",
        ],
        ["91433101MAQJF8398T", "罚〔2025〕2号", "2025-01-02", 'a "quoted", text\nnext', "警告"],
        ["91433101MAQJF8398T", "罚〔2025〕3号", "2025-01-03", "plain", "罚款"],
    ]
    data = csv_bytes(table)
    for size in (1, 2, 5, len(data)):
        rows = await collect(read_csv(chunked(data, size)))
        assert [r.number for r in rows] == [1, 2, 3]
        facts = [r.row.fields["violation_facts"] for r in rows if r.row]
        assert facts == ["第一行\r\n第二行，含“引号”", 'a "quoted", text\nnext', "plain"]
        assert rows[0].row and rows[0].row.fields["penalty_kinds"] == ["fine", "warning"]


async def test_blank_lines_and_empty_rows_are_skipped_and_not_counted() -> None:
    data = b"XDR_SHXYM,CF_WSH,CF_JDRQ\n\na,1,2025-01-01\n,,\n   \nb,2,2025-01-02"
    rows = await collect(read_csv(chunked(data, 4)))
    assert [(r.number, r.row.subject_code if r.row else None) for r in rows] == [
        (1, "a"),
        (2, "b"),
    ]


async def test_a_gb18030_csv_reads_like_the_utf8_one() -> None:
    text = PENALTIES.read_bytes().decode("utf-8-sig")
    gb = await collect(read_csv(chunked(text.encode("gb18030"), 7)))
    utf8 = await collect(read_csv(chunked(text.encode("utf-8"), 7)))
    assert len(gb) == 300
    assert all(not r.errors for r in gb)
    assert [r.row for r in gb] == [r.row for r in utf8]
    assert gb[0].row and gb[0].row.extra["xdr_mc"] == "吉首市顺安万象医药有限公司"


async def test_undecodable_bytes_late_in_a_utf8_file_spoil_only_their_row() -> None:
    head = b"XDR_SHXYM,CF_WSH,CF_JDRQ,CF_SY\n"
    good = "a,1,2025-01-01,事实\n".encode()
    data = head + good * 5000 + "b,2,2025-01-02,事实\n".encode("gb18030") + good
    rows = await collect(read_csv(chunked(data, 4096)))
    assert len(rows) == 5002
    assert [r.number for r in rows if r.errors] == [5001]
    assert "not valid utf-8" in rows[5000].errors[0]


# --- NDJSON -------------------------------------------------------------------------


async def test_ndjson_lines_in_our_shape_or_with_national_codes() -> None:
    lines = [
        {
            "subject_code": "91433101MAQJF8398T",
            "source_ref": "罚〔2025〕1号",
            "decided_on": "2025-09-10",
            "fields": {"violation_type": "超范围经营", "CF_CFLB": "罚款;警告", "fine_amount": 2},
        },
        {
            "XDR_SHXYM": "91433101MAQJF8398T",
            "CF_WSH": "罚〔2025〕2号",
            "CF_JDRQ": "2025-09-11",
            "CF_NR_FK": "1.5",
            "XDR_MC": "某公司",
        },
    ]
    data = (
        "\ufeff" + "\n\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n"
    ).encode()
    rows = await collect(read_ndjson(chunked(data, 5), "admin_penalty"))
    assert [r.number for r in rows] == [1, 2]
    assert rows[0].row and rows[0].row.fields == {
        "violation_type": "超范围经营",
        "penalty_kinds": ["fine", "warning"],
        "fine_amount": 2.0,
    }
    assert rows[1].row and rows[1].row.source_ref == "罚〔2025〕2号"
    assert rows[1].row.fields == {"fine_amount": 1.5}
    assert rows[1].row.extra == {"xdr_mc": "某公司"}


async def test_ndjson_without_a_named_item_takes_the_first_lines_item_code() -> None:
    line = {"subject_code": "S", "source_ref": "R", "decided_on": "2025-01-01", "fields": {}}
    data = "\n".join(
        json.dumps({**line, "item_code": item}) for item in ("admin_penalty", "admin_license")
    ).encode()
    detected = Detected()
    rows = await collect(read_ndjson(chunked(data, 7), None, detected))
    assert detected.item_code == "admin_penalty"
    assert rows[0].row is not None and rows[1].row is None
    assert rows[1].errors == ["item_code 'admin_license' is not the upload's item 'admin_penalty'"]
    for first in (
        json.dumps(line),
        json.dumps({**line, "item_code": " "}),
        json.dumps({**line, "item_code": 7}),
        json.dumps({**line, "item_code": {"x": 1}}),
    ):
        with pytest.raises(ItemRequired):
            await collect(read_ndjson(chunked(f"\n{first}\n{data.decode()}".encode(), 5), None))
    # A first line that is no JSON object is that line's error; the next one names the item.
    for first in ("{not json", "[1]"):
        after = await collect(read_ndjson(chunked(f"{first}\n{data.decode()}".encode(), 5), None))
        assert [r.row is not None for r in after] == [False, True, False]
        assert after[0].errors[0].startswith("line is not a JSON object")
    # Padded, the item is named all the same; flat lines name it too (it is no column).
    padded = [{**line, "item_code": " admin_penalty "}, {**line, "item_code": "admin_penalty"}]
    flat = {"XDR_SHXYM": "S", "CF_WSH": "R", "CF_JDRQ": "2025-01-01"}
    lines = [
        *padded,
        {**flat, "item_code": "admin_penalty"},
        {**flat, "item_code": "other"},
        {**line, "item_code": 7},
    ]
    body = "\n".join(json.dumps(x) for x in lines).encode()
    rows = await collect(read_ndjson(chunked(body, 9), None))
    assert [r.errors for r in rows] == [
        [],
        [],
        [],
        ["item_code 'other' is not the upload's item 'admin_penalty'"],
        ["item_code '7' is not the upload's item 'admin_penalty'"],
    ]


async def test_a_bad_ndjson_line_is_an_error_and_reading_goes_on() -> None:
    good = json.dumps(
        {"subject_code": "S", "source_ref": "R", "decided_on": "2025-01-01", "fields": {}}
    )
    data = "\n".join(
        [
            good,
            "{not json",
            "[1, 2]",
            json.dumps({"subject_code": "S", "fields": {}, "colour": 1}),
            json.dumps({"XDR_SHXYM": "S", "CF_WSH": "R", "CF_JDRQ": "d", "CF_XX": 1}),
            good,
        ]
    ).encode()
    rows = await collect(read_ndjson(chunked(data, 3), "admin_penalty"))
    assert [r.number for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0].row is not None and rows[5].row is not None
    assert rows[1].row is None and rows[1].errors[0].startswith("line is not a JSON object: ")
    assert rows[2].errors == ["line is not a JSON object: a list"]
    assert rows[3].errors == [
        "unknown key(s) colour beside fields",
        "missing source_ref",
        "missing decided_on",
    ]
    assert rows[4].row is None and "'CF_XX'" in rows[4].errors[0]


async def test_an_ndjson_line_naming_another_item_is_an_error() -> None:
    line = {
        "item_code": "admin_license",
        "subject_code": "S",
        "source_ref": "R",
        "decided_on": "2025-01-01",
        "fields": {},
    }
    rows = await collect(read_ndjson(chunked(json.dumps(line).encode(), 100), "admin_penalty"))
    assert rows[0].errors == ["item_code 'admin_license' is not the upload's item 'admin_penalty'"]


LONE = "the line holds a lone surrogate, which is not text"
TOO_DEEP = f"the line is nested deeper than {MAX_NESTING} levels"


def ndjson_row(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "subject_code": "S",
        "source_ref": "R",
        "decided_on": "2025-01-01",
        "fields": {"violation_facts": "未取得执照", "penalty_kinds": ["warning"]},
    }
    return row | overrides


async def test_an_ndjson_line_holding_a_lone_surrogate_is_an_error_for_that_line_only() -> None:
    """JSON's \ud800 escape (or the UTF-8 bytes of one, which json reads with surrogatepass)
    is no text: no UTF-8 string, and so no protobuf message, can carry it."""
    lines = [
        json.dumps(ndjson_row()),
        json.dumps(ndjson_row(source_ref="R\ud800")),
        json.dumps(ndjson_row(subject_code="S\udfff")),
        json.dumps(ndjson_row(decided_on="2025-01-01X")).replace("X", "\\uDBFF"),
        json.dumps(ndjson_row(fields={"violation_facts": ["未取得\ud800执照"]})),
        json.dumps(ndjson_row(fields={"violation\udc00": "x"})),
        json.dumps(ndjson_row(extra={"bz": "\ud800"}), ensure_ascii=False),
        json.dumps({"XDR_SHXYM": "S", "CF_WSH": "R\ud800", "CF_JDRQ": "2025-01-01"}),
        json.dumps(ndjson_row(fields={"violation_facts": "\ud842\udfb7"})),  # a pair: 𠮷
        json.dumps(ndjson_row(fields={"violation_facts": "𠮷 힣"}), ensure_ascii=False),
    ]
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    rows = await collect(read_ndjson(chunked(data, 7), "admin_penalty"))
    assert [r.number for r in rows] == list(range(1, 11))
    assert [r.errors for r in rows] == [[]] + [[LONE]] * 7 + [[], []]
    assert [r.row.fields["violation_facts"] for r in rows[8:] if r.row] == ["𠮷", "𠮷 힣"]
    utf16 = json.dumps(ndjson_row(source_ref="R\ud800")).encode("utf-16-le", "surrogatepass")
    assert (await collect(read_ndjson(chunked(utf16, 100), "admin_penalty")))[0].errors == [LONE]


async def test_an_ndjson_line_nested_too_deep_is_an_error_for_that_line_only() -> None:
    """5,000 arrays deep made json recurse out of its stack (the whole upload a 500);
    past MAX_NESTING a record could not be read back as a protobuf Struct."""

    def nested(depth: int) -> bytes:
        kinds = "[" * depth + '"warning"' + "]" * depth  # within the line and its fields
        return json.dumps(ndjson_row(fields={"penalty_kinds": "K"})).replace('"K"', kinds).encode()

    lines = [nested(5000), nested(MAX_NESTING - 2), nested(MAX_NESTING - 1), nested(1)]
    rows = await collect(read_ndjson(chunked(b"\n".join(lines), 4096), "admin_penalty"))
    assert [r.errors for r in rows] == [[TOO_DEEP], [], [TOO_DEEP], []]
    assert rows[3].row and rows[3].row.fields == {"penalty_kinds": ["warning"]}


async def test_csv_bytes_of_a_lone_surrogate_are_no_text_and_the_row_an_error() -> None:
    """CSV is decoded from UTF-8 (or GB18030, which maps no bytes to a surrogate), so the
    bytes of one are undecodable there, never a lone surrogate in a row."""
    data = b"XDR_SHXYM,CF_WSH,CF_JDRQ\nS,R\xed\xa0\x80,2025-01-01\nS,R2,2025-01-01\n"
    for encoding, upload in (("gb18030", data), ("utf-8-sig", codecs.BOM_UTF8 + data)):
        rows = await collect(read_csv(chunked(upload, 5), "admin_penalty"))
        assert rows[0].row is None and rows[0].errors == [
            f"contains bytes that are not valid {encoding} text"
        ]
        assert rows[1].row is not None and rows[1].row.source_ref == "R2"


# --- laziness and spooling ----------------------------------------------------------


async def test_read_csv_yields_rows_long_before_a_large_upload_has_arrived() -> None:
    header = b"XDR_SHXYM,CF_WSH,CF_JDRQ,CF_CFLB,CF_NR_FK\r\n"
    total = 200_000
    sent = 0

    async def upload() -> AsyncIterator[bytes]:
        nonlocal sent
        yield header
        for start in range(0, total, 1000):
            yield b"".join(
                f"91433101MAQJF8398T,罚〔2025〕{n}号,2025-01-01,罚款,1.5\r\n".encode()
                for n in range(start, start + 1000)
            )
            sent += 1000

    rows = read_csv(upload())
    first = await anext(rows)
    assert first.number == 1 and first.row and first.row.source_ref == "罚〔2025〕0号"
    assert sent < total // 10
    second = await anext(rows)
    assert second.number == 2
    assert isinstance(rows, AsyncGenerator)
    await rows.aclose()
    assert sent < total // 10


async def test_spool_to_file_writes_the_upload(tmp_path: Path) -> None:
    data = LICENSES.read_bytes()
    path = await spool_to_file(chunked(data, 1000), tmp_path, limit_bytes=len(data))
    assert path.parent == tmp_path
    assert path.read_bytes() == data
    assert sum(1 for _ in read_xlsx(path)) == 200


async def test_spool_to_file_refuses_a_too_large_upload_and_leaves_nothing(tmp_path: Path) -> None:
    data = b"x" * 5000
    with pytest.raises(TooLarge) as raised:
        await spool_to_file(chunked(data, 1000), tmp_path, limit_bytes=4999)
    assert raised.value.limit_bytes == 4999
    assert not any(tmp_path.iterdir())  # noqa: ASYNC240


async def test_an_unclosed_quote_far_from_the_end_is_given_up_after_many_lines() -> None:
    head = b"XDR_SHXYM,CF_WSH,CF_JDRQ,CF_SY\n"
    rows_after = b"".join(f"s,{n},2025-01-01,f\n".encode() for n in range(3000))
    data = head + b'a,x,2025-01-01,"never closed\n' + rows_after
    rows = await collect(read_csv(chunked(data, 4096)))
    assert [r.number for r in rows] == list(range(1, 3002))
    assert [r.number for r in rows if r.errors] == [1]
    assert [r.row.source_ref for r in rows[1:] if r.row] == [str(n) for n in range(3000)]


def test_a_sheet_with_wrong_stored_dimensions_is_read_in_full(tmp_path: Path) -> None:
    made = make_workbook(
        tmp_path / "made.xlsx",
        [
            ["XDR_SHXYM", "XK_WSH", "XK_JDRQ", "XK_NR"],
            *[["S", str(n), "2025-01-01", "x"] for n in range(5)],
        ],
    )
    path = tmp_path / "exported.xlsx"
    with zipfile.ZipFile(made) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:B2"', data)
                assert b'<dimension ref="A1:B2"' in data
            target.writestr(item, data)
    rows = list(read_xlsx(path))
    assert [r.row.source_ref for r in rows if r.row] == ["0", "1", "2", "3", "4"]
    assert all(r.row and r.row.fields == {"content": "x"} for r in rows)


async def test_a_gb18030_csv_whose_first_rows_are_ascii_is_still_recognised() -> None:
    head = b"XDR_SHXYM,CF_WSH,CF_JDRQ,CF_SY\n" + b"a,1,2025-01-01,facts\n" * 4000
    data = head + "b,2,2025-01-02,超范围经营\n".encode("gb18030")
    assert len(head) > 64 * 1024
    rows = await collect(read_csv(chunked(data, 7)))
    assert len(rows) == 4001
    assert not any(r.errors for r in rows)
    assert rows[-1].row and rows[-1].row.fields == {"violation_facts": "超范围经营"}


async def test_a_csv_of_an_item_without_national_codes_marks_its_text_cells() -> None:
    """The item's schema is the records service's: the row says its values are a file's
    text, for the records service to convert (they stayed text and failed every schema)."""
    data = (
        "subject_code,source_ref,decided_on,grade,year,evaluating_authority\n"
        "91310115MA8BRK2A83,T-1,2026-04-01,A,2025,国家税务总局上海市税务局\n"
    ).encode()
    [parsed] = await collect(read_csv(chunked(data, 7), "tax_credit_grade"))
    assert parsed.row is not None and parsed.row.text_cells
    assert parsed.row.fields == {
        "grade": "A",
        "year": "2025",
        "evaluating_authority": "国家税务总局上海市税务局",
    }


async def test_a_csv_of_court_records_may_name_the_case_number_in_chinese() -> None:
    data = (
        "subject_code,source_ref,decided_on,案号,court_name\n"
        "91310115MA8BRK2A83,(2026)沪0115执1号,2026-04-01,(2026)沪0115执1号,某法院\n"
    ).encode()
    [parsed] = await collect(read_csv(chunked(data, 5), "court_dishonest"))
    assert parsed.row is not None and parsed.row.text_cells
    assert parsed.row.fields == {
        "case_number": "(2026)沪0115执1号",
        "court_name": "某法院",
    }


def test_a_sheet_of_an_item_without_national_codes_marks_its_cells(tmp_path: Path) -> None:
    path = make_workbook(
        tmp_path / "t.xlsx",
        [
            ["subject_code", "source_ref", "decided_on", "grade", "year"],
            ["91310115MA8BRK2A83", "T-1", dt.date(2026, 4, 1), "A", 2025],
            ["91310115MA8BRK2A83", "T-2", "2026-04-01", "B", "2024"],
        ],
    )
    rows = list(read_xlsx(path, "tax_credit_grade"))
    assert [(r.row.text_cells, r.row.fields) if r.row else r.errors for r in rows] == [
        (True, {"grade": "A", "year": 2025}),
        (True, {"grade": "B", "year": "2024"}),
    ]


async def test_ndjson_values_are_typed_and_never_marked() -> None:
    lines = [
        {"subject_code": "S", "source_ref": "R", "decided_on": "2026-04-01", "fields": {"year": 1}},
        {"subject_code": "S", "source_ref": "R", "decided_on": "2026-04-01", "year": "2025"},
    ]
    data = "\n".join(json.dumps(x) for x in lines).encode()
    rows = await collect(read_ndjson(chunked(data, 9), "tax_credit_grade"))
    assert [(r.row.text_cells, r.row.fields) if r.row else r.errors for r in rows] == [
        (False, {"year": 1}),
        (False, {"year": "2025"}),
    ]


async def test_an_ndjson_field_given_twice_in_fields_is_an_error_for_that_line() -> None:
    """{"CF_NR_FK":10,"fine_amount":100,...} was stored with fine_amount 100.0, no error."""
    fields = {"CF_NR_FK": 10, "fine_amount": 100, "CF_YJ": "《甲法》", "legal_basis": "《乙法》"}
    lines = [
        ndjson_row(fields=fields),
        ndjson_row(fields={OLD_TEXT_CELLS_MARK: True, "violation_facts": "x"}),
        ndjson_row(),
    ]
    data = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines).encode()
    rows = await collect(read_ndjson(chunked(data, 11), "admin_penalty"))
    assert rows[0].row is None and rows[0].errors == [
        "fields 'CF_NR_FK' and 'fine_amount' both give fine_amount: give it once",
        "fields 'CF_YJ' and 'legal_basis' both give legal_basis: give it once",
    ]
    assert rows[1].row is None and rows[1].errors == [
        f"fields: {OLD_TEXT_CELLS_MARK!r} is a reserved name, not a field"
    ]
    assert rows[2].row is not None


PERSON_CSV = (
    "XDR_MC,XDR_LB,XDR_SHXYM,XDR_ZJLX,XDR_ZJHM,CF_WSH,CF_WFXW,CF_JDRQ\n"
    "林霞娟,自然人,,身份证,330106198810118286,杭公罚〔2026〕1号,无证经营,2026-11-20\n"
    "王五,自然人,,护照,E12345678,杭公罚〔2026〕2号,无证经营,2026-11-20\n"
    "某公司,法人及非法人组织,91433101MAQJF8398T,,,杭公罚〔2026〕3号,无证经营,2026-11-20\n"
)


@pytest.mark.parametrize("quoted", [False, True])
async def test_a_natural_person_row_of_the_national_format_is_read_by_identity_number(
    quoted: bool,
) -> None:
    """XDR_SHXYM is empty for a 自然人: the identity card number in XDR_ZJHM is its code;
    a person named by a passport is an error for that row only. Either CSV path."""
    text = PERSON_CSV.replace("无证经营", '"无证经营"') if quoted else PERSON_CSV
    rows = await collect(read_csv(chunked(text.encode(), 6)))
    assert [r.number for r in rows] == [1, 2, 3]
    assert rows[0].row is not None and rows[0].row.subject_code == "330106198810118286"
    assert "xdr_zjhm" not in rows[0].row.extra
    assert (
        rows[1].row is None and "only a natural person with an identity card" in (rows[1].errors[0])
    )
    assert "E12345678" not in rows[1].errors[0]
    assert rows[2].row is not None and rows[2].row.subject_code == "91433101MAQJF8398T"


def test_a_natural_person_row_of_a_sheet_is_read_by_identity_number(tmp_path: Path) -> None:
    lines = list(csv.reader(io.StringIO(PERSON_CSV)))
    path = make_workbook(tmp_path / "p.xlsx", [[c or None for c in line] for line in lines])
    rows = list(read_xlsx(path))
    assert rows[0].row is not None and rows[0].row.subject_code == "330106198810118286"
    assert rows[1].row is None and "E12345678" not in rows[1].errors[0]
    assert rows[2].row is not None


async def test_a_flat_ndjson_natural_person_line_is_read_by_identity_number() -> None:
    header, person, passport, _ = csv.reader(io.StringIO(PERSON_CSV))
    data = "\n".join(
        json.dumps(dict(zip(header, row, strict=True)), ensure_ascii=False)
        for row in (person, passport)
    ).encode()
    rows = await collect(read_ndjson(chunked(data, 13), "admin_penalty"))
    assert rows[0].row is not None and rows[0].row.subject_code == "330106198810118286"
    assert rows[1].row is None and "identity card" in rows[1].errors[0]
