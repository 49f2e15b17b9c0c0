"""Broken variants of the licence workbook (admin_licenses.xlsx), built with zipfile: the
ways a department's spreadsheet arrives damaged (cut XML, corrupt or missing zip members)."""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable

import openpyxl

from support import samples

LICENCES = samples.SAMPLES / "admin_licenses.xlsx"
SHEET = "xl/worksheets/sheet1.xml"
WORKBOOK = "xl/workbook.xml"


def licences_with(
    member: str, rewrite: Callable[[bytes], bytes] | None, workbook: bytes | None = None
) -> bytes:
    """The licence workbook (or ``workbook``) with one zip member rewritten, or left out
    when ``rewrite`` is None; every other member as it is."""
    out = io.BytesIO()
    original = io.BytesIO(workbook) if workbook is not None else LICENCES
    with zipfile.ZipFile(original) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == member:
                if rewrite is None:
                    continue
                data = rewrite(data)
            target.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def cut_in_data_row(number: int) -> Callable[[bytes], bytes]:
    """A rewrite of the sheet XML whose data row ``number`` (1-based, the header row not
    counted, as the readers number rows) opens with a cell cut off before its closing
    tags: the XML is well formed up to that row and broken from there."""

    def rewrite(xml: bytes) -> bytes:
        row = xml.index(f'<row r="{number + 1}"'.encode())
        cell = xml.index(b"<c ", row)
        broken = f'<c r="A{number + 1}" t="inlineStr"><is><t>cut'.encode()
        return xml[:cell] + broken + xml[cell:]

    return rewrite


def halved(data: bytes) -> bytes:
    """The first half of ``data``: a member (or a file) cut off in transfer."""
    return data[: len(data) // 2]


def licences_with_a_corrupt_sheet_member() -> bytes:
    """The licence workbook whose sheet member's compressed bytes are overwritten from
    the middle on: its sizes still agree, so the zip opens and breaks while inflating."""
    data = licences_with(SHEET, lambda xml: xml)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(SHEET)
    name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_length + extra_length
    middle = start + info.compress_size // 2
    end = start + info.compress_size
    return data[:middle] + b"\xff" * (end - middle) + data[end:]


def many_licences(count: int) -> bytes:
    """A workbook of ``count`` licence rows: the sample's rows over and over, each with a
    decision number of its own (more rows than the gateway reads in one batch)."""
    sample = openpyxl.load_workbook(LICENCES, read_only=True)
    rows = list(sample.worksheets[0].iter_rows(values_only=True))
    sample.close()
    header, data = rows[0], rows[1:]
    number = header.index("XK_WSH")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(header)
    for i in range(count):
        values = list(data[i % len(data)])
        values[number] = f"{values[number]}-{i}"
        sheet.append(values)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
