"""The reader of NDJSON uploads: one JSON object a line."""

from __future__ import annotations

import codecs
import json
from collections.abc import AsyncIterable, AsyncIterator, Mapping

from credit_common.ingest.fieldmap import (
    ROW_FIELDS,
    Row,
    RowProblem,
    check_header,
    map_fields,
    map_row,
    to_text,
)
from credit_common.ingest.rows import (
    ITEM_COLUMN,
    MAX_RECORD_CHARS,
    Detected,
    ItemRequired,
    ParsedRow,
    is_text,
    other_item,
)

MAX_NESTING = 32
"""Most objects and arrays within one another in an NDJSON line, its own object the first
(as the gateway allows in a request body): a record's fields are read back as protobuf
Structs, three message levels an object, and protobuf's decoder stops at 100."""


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
        return None, [other_item(named_item, item_code)]
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
