"""What a record's field values may hold, checked beyond the item's schema: no NUL, no
lone surrogate, no number a double cannot hold. Each check names every place it finds."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from typing import Any

from credit_common.errors import FieldViolation
from credit_common.ingest.rows import is_text
from credit_common.messages import NOT_FINITE

NUL = "a NUL character, which cannot be stored"


def _shown(path: str) -> str:
    """A path as a violation can name it: a NUL as `\\0`, a lone surrogate as its escape."""
    return path.replace("\x00", "\\0").encode(errors="backslashreplace").decode()


def _nodes(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Each value in decoded JSON with its path (`fields.kinds.0`), objects and arrays too."""
    yield path, value
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _nodes(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from _nodes(inner, f"{path}.{i}")


def _text_violations(
    fields: dict[str, Any], wrong: Callable[[str], bool], what: str
) -> list[FieldViolation]:
    """Each text in the fields (a value, or a name, at any depth) that is `wrong`."""
    found: list[FieldViolation] = []
    for path, value in _nodes(fields, "fields"):
        if isinstance(value, str) and wrong(value):
            found.append(FieldViolation(_shown(path), f"holds {what}"))
        elif isinstance(value, dict):
            found += [
                FieldViolation(_shown(f"{path}.{key}"), f"the name holds {what}")
                for key in value
                if wrong(key)
            ]
    return found


def nul_violations(fields: dict[str, Any], fields_json: str | None = None) -> list[FieldViolation]:
    """Each text in the fields holding a NUL character: PostgreSQL can store none, in text
    or in jsonb. Given the JSON text the fields were read from, a text without an escaped
    NUL is passed at once (JSON has no raw NUL)."""
    if fields_json is not None and "\\u0000" not in fields_json:
        return []
    return _text_violations(fields, lambda text: "\x00" in text, NUL)


LONE_SURROGATE = "a lone surrogate (\\ud800-\\udfff), which is no text"


def surrogate_violations(
    fields: dict[str, Any], fields_json: str | None = None
) -> list[FieldViolation]:
    """Each text in the fields holding a lone surrogate: JSON text may escape one
    (``"\\ud800"``), which decodes to a str no UTF-8 can carry (the content hash, the
    database and protobuf all fail on it). Given the JSON text the fields were read from,
    a text without such an escape is passed at once."""
    if fields_json is not None and "\\ud" not in fields_json and "\\uD" not in fields_json:
        return []
    return _text_violations(fields, lambda text: not is_text(text), LONE_SURROGATE)


def _finite(value: Any) -> bool:
    """Whether a value is no number, or one a double holds."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, int):
        try:
            float(value)
        except OverflowError:
            return False
    return True


def non_finite_violations(
    fields: dict[str, Any], fields_json: str | None = None
) -> list[FieldViolation]:
    """Each number in the fields that no double holds: NaN and the infinities, which jsonb
    refuses (and JSON has no room for), and integers past ±1.8e308, which no Struct carries.
    Given the JSON text the fields were read from with `read_fields`, a text without a NaN
    or an Infinity token is passed at once: that reader answers no text for the other ways
    to write one (1e400, 400 digits)."""
    if fields_json is not None and "NaN" not in fields_json and "Infinity" not in fields_json:
        return []
    return [
        FieldViolation(_shown(path), NOT_FINITE)
        for path, value in _nodes(fields, "fields")
        if not _finite(value)
    ]


class _PastDouble(Exception):
    """A number written in JSON text that no double holds."""


def _float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise _PastDouble(text)
    return number


def _int(text: str) -> int:
    number = int(text)
    if not _finite(number):
        raise _PastDouble(text)
    return number


_DOUBLES_ONLY = json.JSONDecoder(parse_float=_float, parse_int=_int)


def read_fields(fields_json: str) -> tuple[Any, str | None]:
    """A row's fields decoded from JSON text, and the text if it answers for them in the
    checks' fast paths (`nul_violations`, `non_finite_violations`): not when it writes a
    number past a double's range without a NaN or Infinity token (1e400, 400 digits), which
    the decoder sees as it reads each number, at no cost to the other rows. Raises
    ValueError for text that is no JSON, RecursionError for JSON nested past the stack."""
    if not fields_json:
        return {}, fields_json
    try:
        return _DOUBLES_ONLY.decode(fields_json), fields_json
    except _PastDouble:
        return json.loads(fields_json), None
