"""Streaming readers of departments' bulk files: NDJSON, CSV and .xlsx.

Each reader yields :class:`ParsedRow` one at a time, numbered 1-based over the data rows
(the header row is not counted), holding either a mapped :class:`Row` or the errors that
kept the row from being read; reading goes on after a bad row. Memory stays flat whatever
the size: only the current chunk, the rows parsed from it and at most one unfinished
record are held.

A row that cannot be mapped (a natural person named by another document than an identity
card, a field given twice in NDJSON ``fields``) is an error for that row only.

A file that cannot be read as a table at all (wrong header, no header, not a workbook)
raises :class:`HeaderError` before any row; a spreadsheet whose sheet breaks off after its
header ends with an error row at the break instead. Values are only parsed and mapped here
(:mod:`credit_common.ingest.fieldmap`); schema validation is the records service's job.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import csv
import itertools
import json
import os
import tempfile
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from credit_common.ingest.fieldmap import (
    ROW_FIELDS,
    ColumnPlan,
    Row,
    RowProblem,
    check_header,
    detect_item,
    map_fields,
    map_row,
    normalise_header,
    to_text,
)

MAX_RECORD_CHARS = 1 << 20
"""Longest record (line, or lines of one quoted record) read before it is given up."""
MAX_RECORD_LINES = 1000
"""Most physical lines a quoted CSV field may span before its quote counts as unclosed."""
ENCODING_SAMPLE_BYTES = 64 * 1024
"""Bytes of a CSV file looked at to choose between UTF-8 and GB18030..."""
ENCODING_SAMPLE_MAX_BYTES = 1 << 20
"""... or more, up to this, while they are all ASCII."""
MAX_NESTING = 32
"""Most objects and arrays within one another in an NDJSON line, its own object the first
(as the gateway allows in a request body): a record's fields are read back as protobuf
Structs, three message levels an object, and protobuf's decoder stops at 100."""


class IngestError(Exception):
    """A file that cannot be read as rows at all."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class HeaderError(IngestError):
    """The header row is missing or wrong (or the file is not a readable table)."""


class UnreadableSpreadsheet(HeaderError):
    """The upload cannot be read as an .xlsx spreadsheet at all: not a zip, a part missing
    or broken, or a sheet that breaks off before its header row."""


class ItemRequired(IngestError):
    """An upload that names its catalog item nowhere: not by the caller, nor in its header
    (national codes), nor in its first NDJSON line's `item_code`."""


class TooLarge(IngestError):
    """An upload over the size limit."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        super().__init__([f"the upload is larger than {limit_bytes} bytes"])


@dataclass
class Detected:
    """What a reader learned of the upload: the catalog item named or read from the header."""

    item_code: str | None = None


ITEM_COLUMN = "item_code"


def _item_column(header: Sequence[object]) -> int | None:
    """The position of an `item_code` column (as in the body of a single record), if the
    header has one."""
    names = [normalise_header(h).lower() for h in header]
    return names.index(ITEM_COLUMN) if ITEM_COLUMN in names else None


def _no_item() -> ItemRequired:
    return ItemRequired(
        [
            "name the catalog item with ?item_code=, by a header of national codes, or in "
            "the item_code column (the first row names none)"
        ]
    )


def _other_item(named: str, item: str) -> str:
    return f"item_code {named!r} is not the upload's item {item!r}"


@dataclass(frozen=True, slots=True)
class _ItemCells:
    """An `item_code` column of a table upload: left out of the fields, and a row naming
    another item than the upload's is that row's error (a blank cell names none)."""

    index: int
    item: str

    def problem(self, cells: Sequence[object]) -> str | None:
        named = to_text(cells[self.index]) if self.index < len(cells) else None
        return None if named is None or named == self.item else _other_item(named, self.item)


def _plan_for(item: str, header: Sequence[object], column: int | None) -> ColumnPlan:
    """The plan of a header for `item`, its `item_code` column (if any) left out; a bad
    header raises HeaderError."""
    names = list(header)
    if column is not None:
        names[column] = ""
    problems = check_header(item, names)
    if problems:
        raise HeaderError(problems)
    plan = ColumnPlan(item, names, text_cells=True)
    if column is not None:
        plan.unnamed = tuple(i for i in plan.unnamed if i != column)
    return plan


@dataclass(slots=True)
class ParsedRow:
    """One data row: ``row`` when it could be read, else ``None`` and ``errors``."""

    number: int
    row: Row | None
    errors: list[str] = field(default_factory=list)


# --- NDJSON -------------------------------------------------------------------------

_OUR_KEYS = frozenset((*ROW_FIELDS, "fields", "extra", ITEM_COLUMN))


def _named_item(obj: Mapping[str, object]) -> str | None:
    """The item a line names by its `item_code` (stripped; None: it names none). A value
    that is no text names none either, and, once the upload's item is known, is not it."""
    named = obj.get(ITEM_COLUMN)
    if named is None:
        return None
    return (named.strip() or None) if isinstance(named, str) else repr(named)


def _row_of_object(item_code: str, obj: Mapping[str, object]) -> tuple[Row | None, list[str]]:
    named_item = _named_item(obj)
    if named_item is not None and named_item != item_code:
        return None, [_other_item(named_item, item_code)]
    if "fields" not in obj:
        # flat: national codes and/or our names as keys, like a CSV row (its item_code,
        # checked above, is not a column)
        obj = {k: v for k, v in obj.items() if k != ITEM_COLUMN}
        problems = check_header(item_code, list(obj))
        if problems:
            return None, problems
        try:
            return map_row(item_code, obj), []
        except RowProblem as problem:
            return None, problem.problems
    errors: list[str] = []
    unknown = sorted(str(k) for k in obj if k not in _OUR_KEYS)
    if unknown:
        errors.append(f"unknown key(s) {', '.join(unknown)} beside fields")
    values: dict[str, str] = {}
    for key in ROW_FIELDS:
        value = obj.get(key)
        if value is None:
            errors.append(f"missing {key}")
        elif not isinstance(value, str):
            errors.append(f"{key} is not a string")
        else:
            values[key] = value.strip()
    fields = obj["fields"]
    if not isinstance(fields, dict):
        errors.append("fields is not an object")
    extra = obj.get("extra") or {}
    if not isinstance(extra, dict):
        errors.append("extra is not an object")
    if errors or not isinstance(fields, dict) or not isinstance(extra, dict):
        return None, errors
    try:
        mapped = map_fields(item_code, fields)
    except RowProblem as problem:
        return None, problem.problems
    extra_text: dict[str, str] = {}
    for key, value in extra.items():
        text = to_text(value)
        if text is not None:
            extra_text[str(key).lower()] = text
    row = Row(
        subject_code=values["subject_code"],
        source_ref=values["source_ref"],
        decided_on=values["decided_on"],
        fields=mapped,
        extra=extra_text,
    )
    return row, []


_TOO_DEEP = f"the line is nested deeper than {MAX_NESTING} levels"
_LONE_SURROGATE = "the line holds a lone surrogate, which is not text"


def is_text(value: str) -> bool:
    """Whether a str is Unicode text: UTF-8 can carry it (a lone surrogate it cannot)."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _unfit(value: object, depth: int) -> str | None:
    """Why a decoded value cannot be sent on, if it cannot: nesting past MAX_NESTING, or a
    lone surrogate in a text or a name (UTF-8, and so protobuf, has no way to carry one)."""
    if isinstance(value, str):
        return None if is_text(value) else _LONE_SURROGATE
    if not isinstance(value, dict | list):
        return None
    if depth > MAX_NESTING:
        return _TOO_DEEP
    for inner in [*value, *value.values()] if isinstance(value, dict) else value:
        if problem := _unfit(inner, depth + 1):
            return problem
    return None


def _may_be_unfit(line: bytes) -> bool:
    """Whether a line leaves room for what `_unfit` refuses: more opening brackets than
    MAX_NESTING, or a way to a lone surrogate: an escaped one (``\\ud800``), the UTF-8
    bytes of one (ED A0-BF: json reads bytes with surrogatepass), or UTF-16 or UTF-32,
    which json also reads (their ASCII holds NUL bytes, which UTF-8 JSON cannot)."""
    return (
        line.count(b"{") + line.count(b"[") > MAX_NESTING
        or b"\\ud" in line
        or b"\\uD" in line
        or b"\xed" in line
        or b"\x00" in line
    )


def _ndjson_line(item_code: str, number: int, line: bytes) -> ParsedRow:
    try:
        obj = json.loads(line)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        return ParsedRow(number, None, [f"line is not a JSON object: {exc}"])
    except RecursionError:
        return ParsedRow(number, None, [_TOO_DEEP])
    if not isinstance(obj, dict):
        return ParsedRow(number, None, [f"line is not a JSON object: a {type(obj).__name__}"])
    if _may_be_unfit(line) and (problem := _unfit(obj, 1)):
        return ParsedRow(number, None, [problem])
    row, errors = _row_of_object(item_code, obj)
    return ParsedRow(number, row, errors)


def _item_of_first(line: bytes) -> str | None:
    """The upload's item, named by the `item_code` of its first line that is a JSON object
    (as in the body of a single record), when the caller named none; None for a line that
    is no JSON object (that line's error, the next one names the item)."""
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    named = obj.get(ITEM_COLUMN)
    named = named.strip() if isinstance(named, str) else None
    if not named:
        raise ItemRequired(
            [
                "name the catalog item with ?item_code=, or give each line an item_code "
                "(the first line names none)"
            ]
        )
    return named


async def read_ndjson(
    chunks: AsyncIterable[bytes], item_code: str | None, detected: Detected | None = None
) -> AsyncIterator[ParsedRow]:
    """Rows of an NDJSON upload: one JSON object a line, either in our shape
    ``{subject_code, source_ref, decided_on, fields: {...}, extra?, item_code?}`` (field
    keys our names, national codes or Chinese names; a field given twice, e.g. by its code
    and its name, is that line's error) or flat with national codes and/or our names as
    keys (then mapped like a CSV row; unknown keys are that line's errors). Blank lines
    are skipped and not counted; a line that is not a JSON object, longer than
    :data:`MAX_RECORD_CHARS` bytes, nested deeper than :data:`MAX_NESTING` or holding a
    lone surrogate (``\\ud800`` alone, which is no text) is an error for that line only.

    With ``item_code`` None the upload's item is the `item_code` of the first line that is
    a JSON object (noted in ``detected``), and a line naming another is that line's error;
    such a first line naming none raises :class:`ItemRequired`."""
    number = 0
    first = True
    parts: list[bytes] = []
    held = 0
    dropping = False  # skipping the rest of an overlong line

    def parse(line: bytes) -> ParsedRow | None:
        nonlocal first, number, item_code
        if first:
            first = False
            line = line.removeprefix(codecs.BOM_UTF8)
        if not line.strip():
            return None
        number += 1
        if item_code is None:
            named = _item_of_first(line)
            if named is None:
                return _ndjson_line("", number, line)  # no object: no item needed
            item_code = named
            if detected is not None:
                detected.item_code = item_code
        return _ndjson_line(item_code, number, line)

    def overlong() -> ParsedRow:
        nonlocal number
        number += 1
        return ParsedRow(number, None, [f"line longer than {MAX_RECORD_CHARS} bytes"])

    async for chunk in chunks:
        if b"\n" not in chunk:
            if not dropping and chunk:
                parts.append(chunk)
                held += len(chunk)
                if held > MAX_RECORD_CHARS:
                    yield overlong()
                    parts, held, dropping = [], 0, True
            continue
        lines = chunk.split(b"\n")
        if dropping:
            dropping = False
        else:
            parts.append(lines[0])
            parsed = parse(b"".join(parts))
            if parsed is not None:
                yield parsed
        for line in lines[1:-1]:
            parsed = parse(line)
            if parsed is not None:
                yield parsed
        last = lines[-1]
        parts, held = ([last], len(last)) if last else ([], 0)
        if held > MAX_RECORD_CHARS:
            yield overlong()
            parts, held, dropping = [], 0, True
    if parts:
        parsed = parse(b"".join(parts))
        if parsed is not None:
            yield parsed


# --- CSV ----------------------------------------------------------------------------

_UNCLOSED = (
    "unterminated quoted field: the quote opened in this row does not close "
    "(the following lines are read as rows of their own)"
)


def _ends_in_quote(line: str, in_quote: bool) -> bool:
    """Whether a physical line ends inside a quoted field, as the csv module's default
    dialect reads it (a quote opens a field only at its start; ``""`` is an escaped quote;
    after the closing quote the field goes on unquoted)."""
    i = 0
    n = len(line)
    while True:
        if in_quote:
            j = line.find('"', i)
            if j < 0:
                return True
            if j + 1 < n and line[j + 1] == '"':
                i = j + 2
                continue
            in_quote = False
            k = line.find(",", j + 1)
            if k < 0:
                return False
            i = k + 1
        elif i < n and line[i] == '"':
            in_quote = True
            i += 1
        else:
            k = line.find(",", i)
            if k < 0:
                return False
            i = k + 1


def _choose_encoding(head: bytes, complete: bool) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


class _CsvParser:
    """Decoded text in, parsed rows out, as each piece of text completes them.

    Physical lines are grouped into records by tracking whether a line ends inside a
    quoted field (:func:`_ends_in_quote`), so that the csv module only ever sees complete
    records; a line without quotes is simply split at its commas, as the csv module would.
    A quoted record that does not close within :data:`MAX_RECORD_LINES` lines or
    :data:`MAX_RECORD_CHARS` characters, closes with the wrong number of columns, or is
    still open at the end of the file counts as an unclosed quote on its first line, and
    its other lines are read again as rows of their own.
    """

    def __init__(
        self, encoding: str, item_code: str | None, detected: Detected | None = None
    ) -> None:
        self.detected = detected
        self.encoding = encoding
        self.item_code = item_code
        self.plan: ColumnPlan | None = None
        # A header whose item the first row's item_code names, until that row comes.
        self.pending: tuple[list[str], int] | None = None
        self.item_cells: _ItemCells | None = None
        self.width = 0
        self.number = 0
        self.check_replacement = False
        self._out: list[ParsedRow] = []
        self._tail: list[str] = []
        self._tail_chars = 0
        self._dropping = False
        self._record: list[str] = []
        self._record_chars = 0
        self._queue: deque[str] = deque()
        self._reader = csv.reader(iter(self._queue.popleft, None))

    # -- text to lines

    def feed(self, text: str, final: bool) -> Iterator[ParsedRow]:
        """The rows completed by ``text`` (the last piece with ``final``), produced as
        they are iterated: drain it before feeding more."""
        if "\ufffd" in text:
            self.check_replacement = True
        if not final and "\n" not in text:
            if not self._dropping:
                self._tail.append(text)
                self._tail_chars += len(text)
                self._check_tail()
            yield from self._drain()
            return
        if self._dropping:
            cut = text.find("\n")
            if cut < 0:
                return
            self._dropping = False
            text = text[cut + 1 :]
        if self._tail:
            self._tail.append(text)
            text = "".join(self._tail)
            self._tail.clear()
            self._tail_chars = 0
        if not final:
            cut = text.rfind("\n") + 1
            if cut < len(text):
                self._tail.append(text[cut:])
                self._tail_chars = len(text) - cut
            text = text[:cut]
        if (
            self.plan is not None
            and not self.plan.unnamed
            and self.item_cells is None
            and not self._record
            and not self.check_replacement
            and '"' not in text
            and text.count("\r") == text.count("\r\n")
        ):
            # the common case: no quotes, no stray carriage returns: split at commas
            yield from self._rows(text.replace("\r\n", "\n").split("\n"))
        else:
            lines = text.split("\n")
            if lines[-1] == "":
                lines.pop()
            self._lines(lines)
            yield from self._drain()
        if not final:
            self._check_tail()
        while final and self._record:  # open at the end of the file; each pass drops a line
            lines = self._record[1:]
            self._record = []
            self._record_chars = 0
            self._error(_UNCLOSED)
            self._lines(lines)
        yield from self._drain()

    def _drain(self) -> list[ParsedRow]:
        out, self._out = self._out, []
        return out

    def _rows(self, lines: list[str]) -> Iterator[ParsedRow]:
        """The fast path: lines without quotes or stray carriage returns, after a header
        without blank names. Rows are made as they are asked for, so that they die young
        (cheap for the garbage collector) when the consumer drops them."""
        plan = self.plan
        assert plan is not None
        width = self.width
        map_strings = plan.map_strings
        number = self.number
        for line in lines:
            if not line or line.isspace():
                continue
            cells = line.split(",")
            if len(cells) == width:
                if any(cells):
                    number += 1
                    self.number = number
                    try:
                        row = map_strings(cells)
                    except RowProblem as problem:
                        yield ParsedRow(number, None, problem.problems)
                    else:
                        yield ParsedRow(number, row, [])
            else:
                self._emit(cells)
                number = self.number
                yield from self._drain()

    def _check_tail(self) -> None:
        if self._tail_chars + self._record_chars <= MAX_RECORD_CHARS:
            return
        if self._record:
            lines = self._record[1:]
            self._record = []
            self._record_chars = 0
            self._error(_UNCLOSED)
            self._lines(lines)
            return
        self._tail.clear()
        self._tail_chars = 0
        self._dropping = True
        self._error(f"line longer than {MAX_RECORD_CHARS} characters")

    # -- lines to records

    def _lines(self, lines: list[str]) -> None:
        i = 0
        n = len(lines)
        emit = self._emit
        while i < n:
            line = lines[i]
            i += 1
            if self._record:
                record = self._record
                record.append(line)
                self._record_chars += len(line) + 1
                if '"' in line and not _ends_in_quote(line, True):
                    self._record = []
                    self._record_chars = 0
                    cells = self._parse("\n".join(record))
                    if cells is not None and self.has_header and len(cells) != self.width:
                        self._error(_UNCLOSED)
                        lines = record[1:] + lines[i:]
                        i, n = 0, len(lines)
                    elif cells is not None:
                        emit(cells)
                elif len(record) > MAX_RECORD_LINES or self._record_chars > MAX_RECORD_CHARS:
                    self._record = []
                    self._record_chars = 0
                    self._error(_UNCLOSED)
                    lines = record[1:] + lines[i:]
                    i, n = 0, len(lines)
                continue
            if '"' in line:
                if _ends_in_quote(line, False):
                    self._record = [line]
                    self._record_chars = len(line)
                    continue
                cells = self._parse(line)
                if cells is not None:
                    emit(cells)
                continue
            if line.endswith("\r"):
                line = line[:-1]
            if not line or line.isspace():
                continue
            if "\r" in line or (self.check_replacement and "\ufffd" in line):
                cells = self._parse(line)
                if cells is not None:
                    emit(cells)
                continue
            emit(line.split(","))

    def _parse(self, text: str) -> list[str] | None:
        """One complete record through the csv module; None (and an error) if broken."""
        if self.check_replacement and "\ufffd" in text:
            self._error(f"contains bytes that are not valid {self.encoding} text")
            return None
        self._queue.append(text)
        try:
            return next(self._reader)
        except csv.Error as exc:
            self._queue.clear()
            self._error(f"malformed CSV: {exc}")
            return None

    # -- records to rows

    def _error(self, message: str) -> None:
        if not self.has_header:
            raise HeaderError([f"the header row cannot be read: {message}"])
        self.number += 1
        self._out.append(ParsedRow(self.number, None, [message]))

    def _emit(self, cells: list[str]) -> None:
        plan = self.plan
        if plan is None:
            if self.pending is None:
                self._header(cells)
                return
            if not any(cells):
                return
            if len(cells) != self.width:  # no item to be read from it: the next row's
                self.number += 1
                self._out.append(ParsedRow(self.number, None, [self._width_error(cells)]))
                return
            plan = self._first_names_item(cells)
        if not any(cells):
            return
        self.number += 1
        if len(cells) != self.width:
            self._out.append(ParsedRow(self.number, None, [self._width_error(cells)]))
        elif self.item_cells is not None and (other := self.item_cells.problem(cells)):
            self._out.append(ParsedRow(self.number, None, [other]))
        elif plan.unnamed and any(cells[i].strip() for i in plan.unnamed):
            self._out.append(ParsedRow(self.number, None, [_unnamed_error(cells, plan.unnamed)]))
        else:
            try:
                self._out.append(ParsedRow(self.number, plan.map_strings(cells), []))
            except RowProblem as problem:
                self._out.append(ParsedRow(self.number, None, problem.problems))

    @property
    def has_header(self) -> bool:
        return self.plan is not None or self.pending is not None

    def _width_error(self, cells: list[str]) -> str:
        return f"row has {len(cells)} columns, the header has {self.width}"

    def _header(self, cells: list[str]) -> None:
        cells[0] = cells[0].lstrip("\ufeff")
        column = _item_column(cells)
        item = self.item_code or detect_item(cells)
        if item is None:
            if column is None:
                raise HeaderError([_UNKNOWN_ITEM])
            self.pending = (cells, column)
            self.width = len(cells)
            return
        self._start(item, cells, column)

    def _start(self, item: str, header: list[str], column: int | None) -> ColumnPlan:
        plan = _plan_for(item, header, column)
        if self.detected is not None:
            self.detected.item_code = item
        if column is not None:
            self.item_cells = _ItemCells(column, item)
        self.plan = plan
        self.pending = None
        self.width = len(header)
        return plan

    def _first_names_item(self, cells: list[str]) -> ColumnPlan:
        """The plan of a header whose item the first row's item_code names."""
        assert self.pending is not None
        header, column = self.pending
        item = to_text(cells[column]) if column < len(cells) else None
        if item is None:
            raise _no_item()
        return self._start(item, header, column)


_UNKNOWN_ITEM = (
    "cannot tell the catalog item from the header (no CF_* or XK_* columns): name the item"
)


async def read_csv(
    chunks: AsyncIterable[bytes], item_code: str | None = None, detected: Detected | None = None
) -> AsyncIterator[ParsedRow]:
    """Rows of a CSV upload: comma-separated, header row first (national codes and/or our
    names), UTF-8 with or without a byte-order mark, or GB18030 (chosen once, from the
    first 64 KiB, or up to 1 MiB while all ASCII: GB18030 when they are not valid UTF-8;
    bytes later found undecodable make their row an error).

    The item is detected from the header when ``item_code`` is None. A bad header raises
    :class:`HeaderError` before any row. Quoted fields may hold commas, quotes (``""``)
    and line breaks. Blank lines and rows whose cells are all empty are skipped and not
    counted. A row with the wrong number of columns, an unclosed quote or undecodable
    bytes is an error for that row only, and reading goes on.

    Rows come out as each chunk is read: memory holds one chunk's rows, never the file.
    """
    source = aiter(chunks)
    head = bytearray()
    complete = False
    ascii_only = True  # an ASCII header and rows tell nothing: read on (up to a limit)
    while len(head) < ENCODING_SAMPLE_BYTES or (
        ascii_only and len(head) < ENCODING_SAMPLE_MAX_BYTES
    ):
        try:
            chunk = await anext(source)
        except StopAsyncIteration:
            complete = True
            break
        head += chunk
        ascii_only = ascii_only and chunk.isascii()
    encoding = _choose_encoding(bytes(head), complete)
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    parser = _CsvParser(encoding, item_code, detected)
    for parsed in parser.feed(decoder.decode(bytes(head), final=complete), complete):
        yield parsed
    if not complete:
        async for chunk in source:
            if chunk:
                for parsed in parser.feed(decoder.decode(chunk), False):
                    yield parsed
        for parsed in parser.feed(decoder.decode(b"", final=True), True):
            yield parsed
    if not parser.has_header:
        raise HeaderError(["the file is empty: no header row"])


def _unnamed_error(cells: Sequence[object], unnamed: tuple[int, ...]) -> str:
    columns = ", ".join(str(i + 1) for i in unnamed if to_text(cells[i]) is not None)
    return f"a value in column {columns}, which has no name in the header"


# --- xlsx ---------------------------------------------------------------------------


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
    column = _item_column(header)
    item = item_code or detect_item(header)
    first: list[tuple[object, ...]] = []  # the row that named the item, read ahead
    if item is None:
        if column is None:
            raise HeaderError([_UNKNOWN_ITEM])
        try:
            first = [next(v for v in rows if not all(_blank(c) for c in v))]
        except StopIteration:
            return  # no data rows
        except _SheetBreak as exc:
            raise UnreadableSpreadsheet([f"the sheet cannot be read: {exc}"]) from exc
        named = first[0][column] if column < len(first[0]) else None
        item = to_text(named)
        if item is None:
            raise _no_item()
    plan = _plan_for(item, header, column)
    if detected is not None:
        detected.item_code = item
    item_cells = _ItemCells(column, item) if column is not None else None
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
        return ParsedRow(number, None, [_unnamed_error(cells, plan.unnamed)])
    try:
        return ParsedRow(number, plan.map_values(cells), [])
    except RowProblem as problem:
        return ParsedRow(number, None, problem.problems)


# --- spooling -----------------------------------------------------------------------

_SPOOL_BUFFER = 1 << 20


async def spool_to_file(
    chunks: AsyncIterable[bytes],
    directory: str | os.PathLike[str] | None,
    limit_bytes: int,
    *,
    suffix: str = ".upload",
) -> Path:
    """Write an upload to a new temporary file in ``directory`` (the system's temporary
    directory when None) and return its path; the caller deletes it. Raises
    :class:`TooLarge` as soon as more than ``limit_bytes`` arrive, having deleted the
    partial file (also on any other failure or cancellation). Writes go to a worker
    thread in 1 MiB batches so the event loop is not blocked."""
    fd, name = tempfile.mkstemp(prefix="ingest-", suffix=suffix, dir=directory)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            total = 0
            pending: list[bytes] = []
            pending_size = 0
            async for chunk in chunks:
                total += len(chunk)
                if total > limit_bytes:
                    raise TooLarge(limit_bytes)
                pending.append(chunk)
                pending_size += len(chunk)
                if pending_size >= _SPOOL_BUFFER:
                    await asyncio.to_thread(out.write, b"".join(pending))
                    pending, pending_size = [], 0
            if pending:
                await asyncio.to_thread(out.write, b"".join(pending))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    return path
