"""The reader of CSV uploads, in UTF-8 or GB18030, quoted fields across lines."""

from __future__ import annotations

import codecs
import csv
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Iterator

from credit_common.ingest.fieldmap import (
    ColumnPlan,
    RowProblem,
    detect_item,
    to_text,
)
from credit_common.ingest.rows import (
    MAX_RECORD_CHARS,
    UNKNOWN_ITEM,
    Detected,
    HeaderError,
    ItemCells,
    ParsedRow,
    item_column,
    no_item,
    plan_for,
    unnamed_error,
)

MAX_RECORD_LINES = 1000
"""Most physical lines a quoted CSV field may span before its quote counts as unclosed."""
ENCODING_SAMPLE_BYTES = 64 * 1024
"""Bytes of a CSV file looked at to choose between UTF-8 and GB18030..."""
ENCODING_SAMPLE_MAX_BYTES = 1 << 20
"""... or more, up to this, while they are all ASCII."""


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
        self.item_cells: ItemCells | None = None
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
            self._out.append(ParsedRow(self.number, None, [unnamed_error(cells, plan.unnamed)]))
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
        column = item_column(cells)
        item = self.item_code or detect_item(cells)
        if item is None:
            if column is None:
                raise HeaderError([UNKNOWN_ITEM])
            self.pending = (cells, column)
            self.width = len(cells)
            return
        self._start(item, cells, column)

    def _start(self, item: str, header: list[str], column: int | None) -> ColumnPlan:
        plan = plan_for(item, header, column)
        if self.detected is not None:
            self.detected.item_code = item
        if column is not None:
            self.item_cells = ItemCells(column, item)
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
            raise no_item()
        return self._start(item, header, column)


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
