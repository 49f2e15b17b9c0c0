"""The reader of .xlsx workbooks (openpyxl, read-only), with a zip bomb's limits."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from typing import Any

from credit_common.ingest.fieldmap import (
    ColumnPlan,
    RowProblem,
    detect_item,
    normalise_header,
    to_text,
)
from credit_common.ingest.rows import (
    UNKNOWN_ITEM,
    Detected,
    HeaderError,
    ItemCells,
    ParsedRow,
    UnreadableSpreadsheet,
    item_column,
    no_item,
    plan_for,
    unnamed_error,
)


def read_xlsx(
    path: str | os.PathLike[str],
    item_code: str | None = None,
    sheet: str | None = None,
    detected: Detected | None = None,
) -> Iterator[ParsedRow]:
    """Rows of an .xlsx workbook: the first sheet or the one named, header row first
    (national codes and/or our names); the item is detected from the header when
    ``item_code`` is None. Date cells become ``YYYY-MM-DD``; number cells in text fields
    become text. Empty rows (before the header too) are skipped and NOT counted, so
    ``number`` is the row's place among the non-empty data rows. A value beyond the
    header's columns is an error for its row. Raises :class:`HeaderError` (before any row)
    for a bad header, and :class:`UnreadableSpreadsheet` for a missing sheet or a file
    that is not a workbook. A sheet that breaks off after its header (cut XML, a corrupt
    zip member) ends with one error row in place of the first row that could not be
    read: the rows before it stand, as they would had the file simply ended there.

    Synchronous, since openpyxl needs a file: spool the upload first
    (:func:`spool_to_file`) and iterate in a worker thread from async code.
    """
    import openpyxl

    with open(path, "rb") as handle:  # a file object: openpyxl then ignores the suffix
        _check_unpacked(handle)
        try:
            workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl parses the untrusted bytes: any failure is theirs
            raise UnreadableSpreadsheet([f"not a readable .xlsx workbook: {exc}"]) from exc
        try:
            _date_styles_by_builtin_id(workbook)
            if sheet is None:
                if not workbook.worksheets:
                    raise UnreadableSpreadsheet(["the workbook has no sheet"])
                worksheet = workbook.worksheets[0]
            elif sheet in workbook.sheetnames:
                worksheet = workbook[sheet]
            else:
                raise UnreadableSpreadsheet(
                    [f"no sheet named {sheet!r} (sheets: {', '.join(workbook.sheetnames)})"]
                )
            # the stored dimensions are often wrong in exported files: read every cell
            worksheet.reset_dimensions()
            yield from _xlsx_rows(_sheet_values(worksheet), item_code, detected)
        finally:
            workbook.close()


# Excel's built-in date (and time) formats of East Asian locales, e.g. 31
# yyyy"年"m"月"d"日" and 57 yyyy"年"m"月" in a Chinese one: a workbook names them by id alone,
# with no format code, and openpyxl, knowing no code for them, reads their cells as serial
# numbers.
EAST_ASIAN_DATE_FORMATS = frozenset((*range(27, 37), *range(50, 59)))


def _date_styles_by_builtin_id(workbook: Any) -> None:
    """Marks the workbook's cell styles of EAST_ASIAN_DATE_FORMATS as dates, as openpyxl
    marks those whose format code is a date's: their cells are then read as its other date
    cells are (from_excel, in the workbook's epoch, 1900 or 1904). A format the workbook
    defines itself under one of these ids has a code, which openpyxl reads; such a style's
    id is by then renumbered past the built-in ones."""
    workbook._date_formats = set(workbook._date_formats) | {
        index
        for index, style in enumerate(workbook._cell_styles)
        if style.numFmtId in EAST_ASIAN_DATE_FORMATS
    }


# What a workbook may unpack to, a few MB of zip being able to unpack to gigabytes (a zip
# bomb): openpyxl keeps the shared strings (the workbook's distinct texts) in memory, a few
# times the size of their XML, and reads the other parts in turn. A load past these is
# CSV's to carry.
MAX_XLSX_SHARED_STRINGS = 64 << 20
MAX_XLSX_UNPACKED = 512 << 20
_MAX_XLSX_MANIFEST = 1 << 20


def _check_unpacked(handle: Any) -> None:
    """Refuses, before openpyxl reads it, a workbook that unpacks past the limits: its
    shared strings (the part its manifest names, as openpyxl finds it) or all its parts
    together. The sizes are those its zip declares: Python's zipfile reads no part past its
    declared size (a part that holds more fails its CRC). A file that is not a readable
    zip is left to openpyxl to refuse."""
    import zipfile

    from openpyxl.packaging.manifest import Manifest
    from openpyxl.xml.constants import ARC_CONTENT_TYPES, SHARED_STRINGS
    from openpyxl.xml.functions import fromstring

    problems = []
    try:
        with zipfile.ZipFile(handle) as archive:
            sizes = {member.filename: member.file_size for member in archive.infolist()}
            if sum(sizes.values()) > MAX_XLSX_UNPACKED:
                problems.append(f"the workbook unpacks to more than {MAX_XLSX_UNPACKED >> 20} MiB")
            elif sizes.get(ARC_CONTENT_TYPES, 0) > _MAX_XLSX_MANIFEST:
                problems.append(f"its {ARC_CONTENT_TYPES} is over {_MAX_XLSX_MANIFEST >> 20} MiB")
            elif ARC_CONTENT_TYPES in sizes:
                manifest = Manifest.from_tree(fromstring(archive.read(ARC_CONTENT_TYPES)))
                part = manifest.find(SHARED_STRINGS)
                shared = sizes.get(part.PartName[1:], 0) if part is not None else 0
                if shared > MAX_XLSX_SHARED_STRINGS:
                    problems.append(
                        "its shared strings (the workbook's distinct texts) unpack to more "
                        f"than {MAX_XLSX_SHARED_STRINGS >> 20} MiB"
                    )
    except Exception:  # not a zip, or no manifest to read: openpyxl says what is wrong
        problems = []
    finally:
        handle.seek(0)
    if problems:
        raise UnreadableSpreadsheet([f"{problems[0]}: send a load this large as CSV"])


class _SheetBreak(Exception):
    """openpyxl could not read the sheet on: its XML or its zip member is broken."""


def _sheet_values(worksheet: Any) -> Iterator[tuple[object, ...]]:
    """The sheet's rows of values, openpyxl's failures raised as :class:`_SheetBreak`, so
    that a broken file is told apart from a failure of ours."""
    rows = worksheet.iter_rows(values_only=True)
    while True:
        try:
            values = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # openpyxl parses the untrusted bytes: any failure is theirs
            raise _SheetBreak(str(exc) or type(exc).__name__) from exc
        yield values


_SHEET_BREAKS = "the sheet breaks off here and cannot be read on; no row from here on was read"


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _xlsx_rows(
    rows: Iterator[tuple[object, ...]], item_code: str | None, detected: Detected | None = None
) -> Iterator[ParsedRow]:
    try:
        header = _xlsx_header(rows)
    except _SheetBreak as exc:
        raise UnreadableSpreadsheet([f"the sheet cannot be read: {exc}"]) from exc
    column = item_column(header)
    item = item_code or detect_item(header)
    first: list[tuple[object, ...]] = []  # the row that named the item, read ahead
    if item is None:
        if column is None:
            raise HeaderError([UNKNOWN_ITEM])
        try:
            first = [next(v for v in rows if not all(_blank(c) for c in v))]
        except StopIteration:
            return  # no data rows
        except _SheetBreak as exc:
            raise UnreadableSpreadsheet([f"the sheet cannot be read: {exc}"]) from exc
        named = first[0][column] if column < len(first[0]) else None
        item = to_text(named)
        if item is None:
            raise no_item()
    plan = plan_for(item, header, column)
    if detected is not None:
        detected.item_code = item
    item_cells = ItemCells(column, item) if column is not None else None
    number = 0
    try:
        for values in itertools.chain(first, rows):
            if all(_blank(v) for v in values):
                continue
            number += 1
            if item_cells is not None and (other := item_cells.problem(values)):
                yield ParsedRow(number, None, [other])
                continue
            yield _xlsx_row(plan, len(header), number, values)
    except _SheetBreak as exc:
        yield ParsedRow(number + 1, None, [f"{_SHEET_BREAKS} ({exc})"])


def _xlsx_header(rows: Iterator[tuple[object, ...]]) -> list[str]:
    """The first non-empty row's names, blank ones at its end left out."""
    for values in rows:
        if all(_blank(v) for v in values):
            continue
        header = [normalise_header(v) for v in values]
        while header and not header[-1]:
            header.pop()
        return header
    raise HeaderError(["the sheet is empty: no header row"])


def _xlsx_row(plan: ColumnPlan, width: int, number: int, values: tuple[object, ...]) -> ParsedRow:
    cells: Sequence[object] = values
    if len(values) > width:
        beyond = [i + 1 for i in range(width, len(values)) if not _blank(values[i])]
        if beyond:
            return ParsedRow(
                number,
                None,
                [
                    f"a value in column {', '.join(map(str, beyond))}, beyond the "
                    f"header's {width} columns"
                ],
            )
        cells = values[:width]
    elif len(values) < width:
        cells = (*values, *([None] * (width - len(values))))
    if plan.unnamed and any(not _blank(cells[i]) for i in plan.unnamed):
        return ParsedRow(number, None, [unnamed_error(cells, plan.unnamed)])
    try:
        return ParsedRow(number, plan.map_values(cells), [])
    except RowProblem as problem:
        return ParsedRow(number, None, problem.problems)
