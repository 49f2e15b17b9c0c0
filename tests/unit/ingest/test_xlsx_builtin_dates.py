"""Date cells in Excel's built-in East Asian date formats (number format ids 27-36 and
50-58), which a workbook names by id alone: openpyxl knows no code for them and read
them as serial numbers."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from credit_common.ingest.xlsx_reader import read_xlsx

STYLES = "xl/styles.xml"
PLACEHOLDER = "0.000"  # a number format of no date, then replaced by a built-in id
HEADER = ["XDR_SHXYM", "XK_WSH", "XK_JDRQ", "XK_XKLB", "XK_YXQZ", "XK_YXQZI"]
SERIALS = (46000, 46001, 49000)  # 2025-12-09, 2025-12-10, 2034-02-25 (the 1900 epoch)


def with_builtin_date_format(path: Path, format_id: int, *, mac_1904: bool = False) -> Path:
    """A licence sheet whose date cells hold serial numbers styled with the built-in
    number format `format_id`, named by its id only (no numFmt entry), as Excel in a
    Chinese locale writes yyyy"年"m"月"d"日" (31) or yyyy"年"m"月" (57)."""
    workbook = openpyxl.Workbook()
    if mac_1904:
        workbook.epoch = CALENDAR_MAC_1904
    sheet = workbook.active
    sheet.append(HEADER)
    sheet.append(["91330000MA27XL0E2Q", "浙许〔2026〕1号", SERIALS[0], "普通", *SERIALS[1:]])
    for cell in ("C2", "E2", "F2"):
        sheet[cell].number_format = PLACEHOLDER
    plain = io.BytesIO()
    workbook.save(plain)
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == STYLES:
                text = data.decode()
                [custom] = re.findall(r'<numFmt numFmtId="(\d+)" formatCode="0.000" />', text)
                text = re.sub(r"<numFmts[^>]*>.*?</numFmts>", "", text)
                data = text.replace(f'numFmtId="{custom}"', f'numFmtId="{format_id}"').encode()
            target.writestr(info, data)
    return path


@pytest.mark.parametrize("format_id", [27, 31, 36, 50, 57, 58])
def test_cells_in_a_builtin_chinese_date_format_read_as_dates(
    tmp_path: Path, format_id: int
) -> None:
    path = with_builtin_date_format(tmp_path / "dates.xlsx", format_id)
    [parsed] = list(read_xlsx(path, "admin_license"))
    assert parsed.errors == [] and parsed.row is not None
    assert parsed.row.decided_on == "2025-12-09"
    assert parsed.row.fields["valid_from"] == "2025-12-10"
    assert parsed.row.fields["valid_until"] == "2034-02-25"


def test_builtin_chinese_date_cells_follow_the_workbooks_1904_epoch(tmp_path: Path) -> None:
    path = with_builtin_date_format(tmp_path / "mac.xlsx", 31, mac_1904=True)
    [parsed] = list(read_xlsx(path, "admin_license"))
    assert parsed.row is not None
    assert parsed.row.decided_on == "2029-12-10"  # 46000 days after 1904-01-01
    assert parsed.row.fields["valid_until"] == "2038-02-26"


def test_a_number_in_a_format_that_is_no_date_stays_a_number(tmp_path: Path) -> None:
    path = with_builtin_date_format(tmp_path / "plain.xlsx", 2)  # 0.00
    [parsed] = list(read_xlsx(path, "admin_license"))
    assert parsed.row is not None
    assert parsed.row.decided_on == "46000"
