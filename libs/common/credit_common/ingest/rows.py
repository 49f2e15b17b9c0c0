"""What the readers of departments' bulk files share: the rows they yield, their errors,
the catalog item an upload names."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from credit_common.ingest.fieldmap import (
    ColumnPlan,
    Row,
    check_header,
    normalise_header,
    to_text,
)

MAX_RECORD_CHARS = 1 << 20
"""Longest record (line, or lines of one quoted record) read before it is given up."""


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


def item_column(header: Sequence[object]) -> int | None:
    """The position of an `item_code` column (as in the body of a single record), if the
    header has one."""
    names = [normalise_header(h).lower() for h in header]
    return names.index(ITEM_COLUMN) if ITEM_COLUMN in names else None


def no_item() -> ItemRequired:
    return ItemRequired(
        [
            "name the catalog item with ?item_code=, by a header of national codes, or in "
            "the item_code column (the first row names none)"
        ]
    )


def other_item(named: str, item: str) -> str:
    return f"item_code {named!r} is not the upload's item {item!r}"


@dataclass(frozen=True, slots=True)
class ItemCells:
    """An `item_code` column of a table upload: left out of the fields, and a row naming
    another item than the upload's is that row's error (a blank cell names none)."""

    index: int
    item: str

    def problem(self, cells: Sequence[object]) -> str | None:
        named = to_text(cells[self.index]) if self.index < len(cells) else None
        return None if named is None or named == self.item else other_item(named, self.item)


def plan_for(item: str, header: Sequence[object], column: int | None) -> ColumnPlan:
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


def is_text(value: str) -> bool:
    """Whether a str is Unicode text: UTF-8 can carry it (a lone surrogate it cannot)."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


@dataclass(slots=True)
class ParsedRow:
    """One data row: ``row`` when it could be read, else ``None`` and ``errors``."""

    number: int
    row: Row | None
    errors: list[str] = field(default_factory=list)


UNKNOWN_ITEM = (
    "cannot tell the catalog item from the header (no CF_* or XK_* columns): name the item"
)


def unnamed_error(cells: Sequence[object], unnamed: tuple[int, ...]) -> str:
    columns = ", ".join(str(i + 1) for i in unnamed if to_text(cells[i]) is not None)
    return f"a value in column {columns}, which has no name in the header"
