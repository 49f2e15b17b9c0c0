"""Column and value mapping of departments' bulk files to record rows.

Departments send the national 双公示 field codes (CF_* for penalties, XK_* for licences)
or our own field names as column headers, and may mix both. This module turns one data
row into a :class:`Row`: the three row-level columns (subject code, decision document
number, decision date), the catalog item's ``fields`` with their values normalised
(penalty kinds and licence categories from Chinese to codes, amounts to numbers, dates to
ISO strings) and the descriptive columns (subject name, data source, remarks...) in
``extra``.

Nothing here validates: a value that cannot be normalised is kept as it came so that the
schema validation of the records service rejects it with a reason. Catalog items other
than ``admin_penalty`` and ``admin_license`` have no national codes here: their columns
are taken as field names as they are.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

PENALTY = "admin_penalty"
LICENSE = "admin_license"

ROW_FIELDS = ("subject_code", "source_ref", "decided_on")
"""The row-level columns, under our names."""

NATIONAL_FIELDS: Mapping[str, Mapping[str, str]] = {
    PENALTY: {
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
    },
    LICENSE: {
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
    },
}
"""National field code → our field name, per catalog item."""

OWN_FIELDS: Mapping[str, tuple[str, ...]] = {
    PENALTY: (*NATIONAL_FIELDS[PENALTY].values(), "severity"),
    LICENSE: tuple(NATIONAL_FIELDS[LICENSE].values()),
}
"""Our field names per item (``severity`` has no national code)."""

ROW_COLUMNS: Mapping[str, Mapping[str, str]] = {
    PENALTY: {
        "XDR_SHXYM": "subject_code",
        "CF_XDR_SHXYM": "subject_code",
        "CF_WSH": "source_ref",
        "CF_JDRQ": "decided_on",
    },
    LICENSE: {
        "XDR_SHXYM": "subject_code",
        "XK_XDR_SHXYM": "subject_code",
        "XK_WSH": "source_ref",
        "XK_JDRQ": "decided_on",
    },
}
"""National codes of the row-level columns (the 2021 standard prefixes the subject's
columns with CF_/XK_, the older files and our samples do not: both are accepted)."""


class _RequiredColumns(dict[str, tuple[str, ...]]):
    def __missing__(self, key: str) -> tuple[str, ...]:
        return ROW_FIELDS


REQUIRED_COLUMNS: Mapping[str, tuple[str, ...]] = _RequiredColumns(
    {
        PENALTY: ("XDR_SHXYM", "CF_WSH", "CF_JDRQ"),
        LICENSE: ("XDR_SHXYM", "XK_WSH", "XK_JDRQ"),
    }
)
"""Columns a header must contain, in order subject code, source ref, decision date. Each
may also be given under our name (``subject_code``, ``source_ref``, ``decided_on``) or
its prefixed national variant; items without national codes need our three names."""

_SUBJECT_COLUMNS = (
    "XDR_MC",  # 行政相对人名称
    "XDR_LB",  # 行政相对人类别
    "XDR_GSZC",  # 工商注册号
    "XDR_ZZJG",  # 组织机构代码
    "XDR_SWDJ",  # 税务登记号
    "XDR_SYDW",  # 事业单位证书号
    "XDR_SHZZ",  # 社会组织登记证号
    "XDR_ZJLX",  # 证件类型
    "XDR_ZJHM",  # 证件号码
    "FRDB",  # 法定代表人
    "FR_ZJLX",  # 法定代表人证件类型
    "FR_ZJHM",  # 法定代表人证件号码
)

DESCRIPTIVE_COLUMNS: Mapping[str, frozenset[str]] = {
    PENALTY: frozenset(
        (
            *_SUBJECT_COLUMNS,
            *(f"CF_{c}" for c in _SUBJECT_COLUMNS),
            "CF_YXQ",  # 处罚有效期
            "CF_SJLY",  # 数据来源单位
            "CF_SJLYDM",  # 数据来源单位统一社会信用代码
            "CF_BZ",
            "BZ",  # 备注
        )
    ),
    LICENSE: frozenset(
        (
            *_SUBJECT_COLUMNS,
            *(f"XK_{c}" for c in _SUBJECT_COLUMNS),
            "XK_LYDW",  # 数据来源单位
            "XK_LYDWDM",  # 数据来源单位统一社会信用代码
            "XK_BZ",
            "BZ",  # 备注
        )
    ),
}
"""Known descriptive columns: kept in ``Row.extra`` under their lower-cased names."""

PENALTY_KINDS: Mapping[str, str] = {
    "警告": "warning",
    "通报批评": "public_criticism",
    "罚款": "fine",
    "没收违法所得": "confiscation",
    "没收非法财物": "confiscation",
    "没收违法所得、没收非法财物": "confiscation",
    "暂扣许可证件": "license_withholding",
    "降低资质等级": "qualification_downgrade",
    "吊销许可证件": "license_revocation",
    "吊销营业执照": "license_revocation",
    "限制开展生产经营活动": "business_restriction",
    "责令停产停业": "suspension",
    "责令关闭": "closure",
    "限制从业": "practice_restriction",
    "行政拘留": "detention",
    "其他": "other",
    "其它": "other",
}
"""Penalty kinds (行政处罚法 art. 9) in Chinese → codes."""

LICENSE_CATEGORIES: Mapping[str, str] = {
    "普通": "general",
    "特许": "special",
    "认可": "recognition",
    "核准": "approval",
    "登记": "registration",
    "其他": "other",
    "其它": "other",
}
"""Licence categories (XK_XKLB) in Chinese → codes."""

_KIND_CODES: dict[str, str] = {**PENALTY_KINDS, **{c: c for c in PENALTY_KINDS.values()}}
_CATEGORY_CODES: dict[str, str] = {
    **LICENSE_CATEGORIES,
    **{c: c for c in LICENSE_CATEGORIES.values()},
}


@dataclass(frozen=True, slots=True)
class Row:
    """One record as parsed: not yet validated."""

    subject_code: str
    source_ref: str
    decided_on: str
    fields: dict[str, object]
    extra: dict[str, str]


# --- value conversion ---------------------------------------------------------------

Convert = Callable[[object], object]
"""A converter returns the normalised value, or None when the cell counts as empty."""


def _number_text(value: float) -> str:
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def _iso(value: dt.date) -> str:
    if isinstance(value, dt.datetime):
        value = value.date()
    return value.isoformat()


def to_text(value: object) -> str | None:
    """A cell as text: stripped, ``None`` when empty; numbers (spreadsheet cells typed as
    numbers, e.g. a certificate number) and dates as text."""
    if isinstance(value, str):
        return value.strip() or None
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number_text(value)
    if isinstance(value, dt.date):
        return _iso(value)
    return str(value)


def _text_field(value: object) -> object:
    """A text field: like :func:`to_text`, except that a JSON value that is neither text,
    number nor date (list, object, boolean) is kept for validation to reject."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool | list | dict):
        return value
    return to_text(value)


def _plain(value: object) -> object:
    """A field of an item without national codes: strings stripped, dates to ISO, other
    values as they are."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dt.date):
        return _iso(value)
    return value


def to_date(value: object) -> object:
    """A date: spreadsheet date cells → ``YYYY-MM-DD``; text kept as given (stripped)."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dt.date):
        return _iso(value)
    return _text_field(value)


_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def to_amount(value: object) -> object:
    """An amount (万元): a float when it reads as a finite number, else as given (NaN, an
    infinity or an integer past a double's range too: the records service refuses each
    with the field named)."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if _NUMBER.fullmatch(text):
            number = float(text)
            if math.isfinite(number):
                return number
        return text
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        with contextlib.suppress(OverflowError):
            return float(value)
    return value


_KIND_SEPARATORS = re.compile(r"[;；,，]")


@lru_cache(maxsize=4096)
def _kinds_of_text(text: str) -> tuple[str, ...]:
    codes: list[str] = []
    for raw_part in _KIND_SEPARATORS.split(text):
        part = raw_part.strip()
        if not part:
            continue
        code = _KIND_CODES.get(part)
        if code is not None:
            codes.append(code)
            continue
        # "没收违法所得、没收非法财物" style: a 、-list of known kinds, else kept whole
        pieces = [p.strip() for p in part.split("、") if p.strip()]
        piece_codes = [_KIND_CODES.get(p) for p in pieces]
        if len(pieces) > 1 and all(piece_codes):
            codes.extend(c for c in piece_codes if c)
        else:
            codes.append(part)
    return tuple(dict.fromkeys(codes))


def to_penalty_kinds(value: object) -> object:
    """Penalty kinds: a list of codes, deduplicated in order. Text is split at ``;`` (also
    ``；``, ``,``, ``，``); Chinese names become codes; an unknown kind is kept as given."""
    if isinstance(value, str):
        kinds = _kinds_of_text(value)
        return list(kinds) if kinds else None
    if isinstance(value, list):
        out: list[object] = []
        for item in value:
            if isinstance(item, str):
                out.extend(_kinds_of_text(item))
            else:
                out.append(item)
        unique: list[object] = []
        for item in out:
            if item not in unique:
                unique.append(item)
        return unique
    return value


def to_license_category(value: object) -> object:
    """Licence category: Chinese name → code; an unknown value is kept as given."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        return _CATEGORY_CODES.get(text, text)
    return value


_CONVERTERS: Mapping[str, Convert] = {
    "penalty_kinds": to_penalty_kinds,
    "license_category": to_license_category,
    "fine_amount": to_amount,
    "confiscated_amount": to_amount,
    "publicity_deadline": to_date,
    "valid_from": to_date,
    "valid_until": to_date,
}


def converter(item_code: str, field: str) -> Convert:
    """The value converter of one field of an item."""
    if item_code not in NATIONAL_FIELDS:
        return _plain
    return _CONVERTERS.get(field, _text_field)


# --- columns ------------------------------------------------------------------------

_ROW = 0
_FIELD = 1
_EXTRA = 2

_Target = tuple[int, str]


@cache
def _lookup(item_code: str) -> dict[str, _Target]:
    """Upper-cased header → (kind, our name)."""
    table: dict[str, _Target] = {name.upper(): (_ROW, name) for name in ROW_FIELDS}
    if item_code not in NATIONAL_FIELDS:
        return table
    for code, name in ROW_COLUMNS[item_code].items():
        table[code] = (_ROW, name)
    for code, name in NATIONAL_FIELDS[item_code].items():
        table[code] = (_FIELD, name)
    for name in OWN_FIELDS[item_code]:
        table[name.upper()] = (_FIELD, name)
    for code in DESCRIPTIVE_COLUMNS[item_code]:
        table[code] = (_EXTRA, code.lower())
    return table


def normalise_header(header: object) -> str:
    """A header cell as a column name: stripped of blanks and a stray byte-order mark."""
    if header is None:
        return ""
    return str(header).strip().lstrip("\ufeff").strip()


def detect_item(headers: Iterable[object]) -> str | None:
    """``admin_penalty`` for a header of CF_* codes, ``admin_license`` for XK_*, else None
    (also when both kinds appear)."""
    found: set[str] = set()
    for header in headers:
        name = normalise_header(header).upper()
        if name.startswith("CF_"):
            found.add(PENALTY)
        elif name.startswith("XK_"):
            found.add(LICENSE)
    return found.pop() if len(found) == 1 else None


def check_header(item_code: str, headers: Sequence[object]) -> list[str]:
    """Problems with a header row: missing required columns, columns that are neither
    national codes, nor our field names, nor known descriptive columns, and columns given
    twice (also as a code and our name). Blank header cells are ignored (their column
    must then stay empty, which the readers check row by row)."""
    names = [normalise_header(h) for h in headers]
    if not any(names):
        return ["the header row is empty"]
    table = _lookup(item_code)
    generic = item_code not in NATIONAL_FIELDS
    problems: list[str] = []
    seen: dict[str, str] = {}
    for name in names:
        if not name:
            continue
        target = table.get(name.upper())
        if target is None:
            if not generic:
                problems.append(
                    f"unknown column {name!r}: not a national field code, a field of "
                    f"{item_code} or a known descriptive column"
                )
                continue
            target = (_FIELD, name)
        key = f"{target[0]}:{target[1]}"
        if key in seen:
            problems.append(
                f"column {name!r} repeats column {seen[key]!r}"
                if seen[key] != name
                else f"column {name!r} appears twice"
            )
        else:
            seen[key] = name
    for code, ours in zip(REQUIRED_COLUMNS[item_code], ROW_FIELDS, strict=True):
        if f"{_ROW}:{ours}" not in seen:
            label = code if code == ours else f"{code} (or {ours})"
            problems.append(f"missing required column {label}")
    return problems


_TEXT_CONVERTERS: frozenset[Convert] = frozenset((_text_field, to_date, _plain))
"""Converters that only strip a string (the CSV fast path calls none of them)."""


def _kinds_of_string(text: str) -> object:
    kinds = _kinds_of_text(text)
    return list(kinds) if kinds else None


def _amount_of_string(text: str) -> object:
    if _NUMBER.fullmatch(text):
        number = float(text)
        if math.isfinite(number):
            return number
    return text


def _category_of_string(text: str) -> object:
    return _CATEGORY_CODES.get(text, text)


_STRING_CONVERTERS: Mapping[Convert, Callable[[str], object]] = {
    to_penalty_kinds: _kinds_of_string,
    to_amount: _amount_of_string,
    to_license_category: _category_of_string,
}
"""The other converters, for a stripped non-empty string."""

StringMapper = Callable[[Sequence[str]], Row]


def _compile_string_mapper(
    width: int,
    row_columns: tuple[int, int, int],
    fields: Sequence[tuple[int, str, Convert]],
    extra: Sequence[tuple[int, str]],
) -> StringMapper:
    """A function mapping a row of ``width`` strings, as straight-line code: about twice
    as fast as a loop over the columns, and this is the hot path of a bulk import.

    The generated source holds nothing from the file but column positions (integers we
    count); names and converters are passed in as tuples, like :mod:`dataclasses` does.
    """
    names: list[str] = []
    converters: list[Callable[[str], object]] = []
    lines = [
        "def map_strings(cells):",
        f"    ({''.join(f'c{i}, ' for i in range(width))}) = cells",
        "    fields = {}",
    ]
    for index, name, convert in fields:
        names.append(name)
        lines += [f"    v = c{index}.strip()", "    if v:"]
        if convert in _TEXT_CONVERTERS:
            lines.append(f"        fields[N[{len(names) - 1}]] = v")
        else:
            converters.append(_STRING_CONVERTERS.get(convert) or convert)
            lines += [
                f"        v = C[{len(converters) - 1}](v)",
                "        if v is not None:",
                f"            fields[N[{len(names) - 1}]] = v",
            ]
    lines.append("    extra = {}")
    for index, name in extra:
        names.append(name)
        lines += [
            f"    v = c{index}.strip()",
            "    if v:",
            f"        extra[N[{len(names) - 1}]] = v",
        ]
    row = [f"c{index}.strip()" if index >= 0 else "''" for index in row_columns]
    lines.append(f"    return Row({', '.join(row)}, fields, extra)")
    namespace: dict[str, Any] = {"N": tuple(names), "C": tuple(converters), "Row": Row}
    # the source holds only column positions; the file's names are in N
    exec("\n".join(lines), namespace)
    mapper: StringMapper = namespace["map_strings"]
    return mapper


class ColumnPlan:
    """How the cells of one header's rows become a :class:`Row`; built once per file.

    Unknown columns (which :func:`check_header` reports) go to ``extra`` under their
    lower-cased names for the catalog's items, to ``fields`` for other items; blank
    header cells are skipped (:attr:`unnamed` lists their positions).

    :attr:`map_strings` maps a row of exactly as many strings as the header (a CSV row)
    like :meth:`map_values` does, faster (get it once per file, not per row); ``fields``
    may list its keys in another order.
    """

    __slots__ = (
        "_decided",
        "_extra",
        "_fields",
        "_mapper",
        "_ref",
        "_subject",
        "_width",
        "item_code",
        "unnamed",
    )

    def __init__(self, item_code: str, headers: Sequence[object]) -> None:
        self.item_code = item_code
        table = _lookup(item_code)
        generic = item_code not in NATIONAL_FIELDS
        subject = ref = decided = -1
        fields: list[tuple[int, str, Convert]] = []
        extra: list[tuple[int, str]] = []
        unnamed: list[int] = []
        for index, header in enumerate(headers):
            name = normalise_header(header)
            if not name:
                unnamed.append(index)
                continue
            target = table.get(name.upper())
            if target is None:
                if generic:
                    fields.append((index, name, _plain))
                else:
                    extra.append((index, name.lower()))
                continue
            kind, ours = target
            if kind == _ROW:
                if ours == "subject_code":
                    subject = index
                elif ours == "source_ref":
                    ref = index
                else:
                    decided = index
            elif kind == _FIELD:
                fields.append((index, ours, converter(item_code, ours)))
            else:
                extra.append((index, ours))
        self._subject, self._ref, self._decided = subject, ref, decided
        self._fields = tuple(fields)
        self._extra = tuple(extra)
        self.unnamed = tuple(unnamed)
        self._width = len(headers)
        self._mapper: StringMapper | None = None

    @property
    def map_strings(self) -> StringMapper:
        """The fast mapper of all-string rows, compiled on first use."""
        if self._mapper is None:
            self._mapper = _compile_string_mapper(
                self._width, (self._subject, self._ref, self._decided), self._fields, self._extra
            )
        return self._mapper

    def map_values(self, values: Sequence[object]) -> Row:
        """The row of one data row's cells of any type (spreadsheet cells, JSON values), in
        header order and as many as the header has."""
        fields: dict[str, object] = {}
        for index, name, convert in self._fields:
            value = values[index]
            if value is None or value == "":
                continue
            value = convert(value)
            if value is not None:
                fields[name] = value
        extra: dict[str, str] = {}
        for index, name in self._extra:
            value = values[index]
            if value is None or value == "":
                continue
            text = to_text(value)
            if text is not None:
                extra[name] = text
        subject = to_text(values[self._subject]) if self._subject >= 0 else None
        ref = to_text(values[self._ref]) if self._ref >= 0 else None
        decided = to_date(values[self._decided]) if self._decided >= 0 else None
        return Row(
            subject_code=subject or "",
            source_ref=ref or "",
            decided_on=decided if isinstance(decided, str) else to_text(decided) or "",
            fields=fields,
            extra=extra,
        )


@lru_cache(maxsize=256)
def _plan(item_code: str, headers: tuple[str, ...]) -> ColumnPlan:
    return ColumnPlan(item_code, headers)


def map_row(item_code: str, raw: Mapping[str, object]) -> Row:
    """One row given as ``{column: value}``, the columns national codes or our names.

    A missing row-level column gives ``""`` there; empty values are left out of
    ``fields``/``extra``. Call :func:`check_header` on the keys first to reject unknown
    columns (here they are kept in ``extra``, never dropped).
    """
    headers = tuple(str(k) for k in raw)
    return _plan(item_code, headers).map_values(list(raw.values()))


def map_fields(item_code: str, fields: Mapping[str, object]) -> dict[str, object]:
    """A ``fields`` object given directly (NDJSON): national codes become our names and
    values are normalised; keys that are not fields of the item are kept as they are so
    that validation reports them."""
    table = _lookup(item_code)
    out: dict[str, object] = {}
    for key, value in fields.items():
        if value is None:
            continue
        target = table.get(str(key).strip().upper())
        if target is not None and target[0] == _FIELD:
            name = target[1]
            converted = converter(item_code, name)(value)
        elif item_code not in NATIONAL_FIELDS:
            name, converted = str(key), _plain(value)
        else:
            name, converted = str(key), value
        if converted is not None:
            out[name] = converted
    return out
