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
are taken as field names as they are, or as the Chinese names DOMAIN.md gives in brackets
(:data:`CHINESE_NAMES`, ``案号`` for ``case_number``). Their types are not known here
either: the cells of a CSV or spreadsheet row of such an item are sent as they are, the
row marked :attr:`Row.text_cells`, and the records service converts the text by the item's
JSON Schema (:func:`from_text_cells`); NDJSON values are typed already and never
converted.

A natural person (XDR_LB 自然人) has no unified code in the national format: XDR_SHXYM is
empty and the identity card number is in XDR_ZJHM (XDR_ZJLX 身份证), which is then the
row's subject code (a natural person's code is its identity number).
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

from credit_common.messages import NOT_FINITE

PENALTY = "admin_penalty"
LICENSE = "admin_license"

OLD_TEXT_CELLS_MARK = "$text_cells"
"""The key gateways put among a row's fields to say they were text cells before
``IngestRow.text_cells`` said it (the records service still honours it, so that a gateway
older than the records service works during an upgrade). It stays no field name: a column
or an NDJSON field of that name is refused, so that no client's field is taken for it."""

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

CHINESE_NAMES: Mapping[str, Mapping[str, str]] = {
    "court_dishonest": {"案号": "case_number"},
}
"""The Chinese names DOMAIN.md gives in brackets for fields of items without national
codes → our field name, per catalog item: bulk files may use them as column headers (and
as keys in NDJSON ``fields``)."""

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

NATURAL_PERSON = "自然人"
"""XDR_LB (行政相对人类别) of a natural person."""

ID_CARD_TYPES = frozenset(("身份证", "居民身份证", "001", "01", "1"))
"""XDR_ZJLX (证件类型) of a resident identity card: by name, or by the national code
(001, also written 01; a spreadsheet number cell loses its leading zeros: 1). The other
documents (护照 002, 港澳居民来往内地通行证 003, 台湾居民来往大陆通行证 004, 外国人永久居留身份证
005) are no subject code of ours."""

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
    """One record as parsed: not yet validated. ``text_cells``: its fields are a file's
    text cells, not typed here (an item without national codes read from a CSV file or
    a spreadsheet), for the records service to convert by the item's schema."""

    subject_code: str
    source_ref: str
    decided_on: str
    fields: dict[str, object]
    extra: dict[str, str]
    text_cells: bool = False


class RowProblem(ValueError):
    """A data row that cannot be mapped: its problems, for the row's errors. They never
    quote an identity number."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


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
    for chinese, name in CHINESE_NAMES.get(item_code, {}).items():
        table[chinese.upper()] = (_FIELD, name)
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
        if name == OLD_TEXT_CELLS_MARK:
            problems.append(f"column {name!r}: a reserved name, not a field")
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
    marked: bool = False,
) -> StringMapper:
    """A function mapping a row of ``width`` strings, as straight-line code: about twice
    as fast as a loop over the columns, and this is the hot path of a bulk import.
    ``marked``: each row is marked :attr:`Row.text_cells`.

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
    lines.append(f"    return Row({', '.join(row)}, fields, extra{', True' if marked else ''})")
    namespace: dict[str, Any] = {
        "N": tuple(names),
        "C": tuple(converters),
        "Row": Row,
    }
    # the source holds only column positions; the file's names are in N
    exec("\n".join(lines), namespace)
    mapper: StringMapper = namespace["map_strings"]
    return mapper


class ColumnPlan:
    """How the cells of one header's rows become a :class:`Row`; built once per file.

    Unknown columns (which :func:`check_header` reports) go to ``extra`` under their
    lower-cased names for the catalog's items, to ``fields`` for other items; blank
    header cells are skipped (:attr:`unnamed` lists their positions).

    ``text_cells``: the cells are a file's text (CSV, a spreadsheet), not typed values
    (NDJSON); the rows of an item without national codes are then marked
    :attr:`Row.text_cells`, for the records service to convert them by the item's schema.

    A row whose subject code is empty but which names a natural person by the number of
    an identity card (XDR_ZJLX 身份证, XDR_ZJHM) takes that number as its subject code (it
    then leaves ``extra``); one naming a natural person by another document raises
    :class:`RowProblem`.

    :attr:`map_strings` maps a row of exactly as many strings as the header (a CSV row)
    like :meth:`map_values` does, faster (get it once per file, not per row); ``fields``
    may list its keys in another order.
    """

    __slots__ = (
        "_decided",
        "_extra",
        "_fields",
        "_mapper",
        "_marked",
        "_person",
        "_ref",
        "_subject",
        "_subject_header",
        "_width",
        "item_code",
        "unnamed",
    )

    def __init__(
        self, item_code: str, headers: Sequence[object], *, text_cells: bool = False
    ) -> None:
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
        self._subject_header = normalise_header(headers[subject]) if subject >= 0 else ""
        self._fields = tuple(fields)
        self._extra = tuple(extra)
        self._marked = text_cells and generic
        self._person = _PersonColumns.of(name for _, name in extra) if not generic else None
        self.unnamed = tuple(unnamed)
        self._width = len(headers)
        self._mapper: StringMapper | None = None

    @property
    def map_strings(self) -> StringMapper:
        """The fast mapper of all-string rows, compiled on first use."""
        if self._mapper is None:
            compiled = _compile_string_mapper(
                self._width,
                (self._subject, self._ref, self._decided),
                self._fields,
                self._extra,
                self._marked,
            )
            if self._person is None:
                self._mapper = compiled
            else:
                person = self._person
                subject_header = self._subject_header

                def map_strings(cells: Sequence[str]) -> Row:
                    row = compiled(cells)
                    return row if row.subject_code else person.subject(row, subject_header)

                self._mapper = map_strings
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
        row = Row(
            subject_code=subject or "",
            source_ref=ref or "",
            decided_on=decided if isinstance(decided, str) else to_text(decided) or "",
            fields=fields,
            extra=extra,
            text_cells=self._marked,
        )
        if self._person is not None and not row.subject_code:
            return self._person.subject(row, self._subject_header)
        return row


@dataclass(frozen=True, slots=True)
class _PersonColumns:
    """The ``extra`` keys of a header's natural-person columns (XDR_LB, XDR_ZJLX,
    XDR_ZJHM, each plain or with the CF_/XK_ prefix of the 2021 standard)."""

    category: tuple[str, ...]
    document: tuple[str, ...]
    number: tuple[str, ...]

    @classmethod
    def of(cls, extra_names: Iterable[str]) -> _PersonColumns | None:
        """The person columns among a header's descriptive columns; None without an
        XDR_ZJHM column."""
        roles: dict[str, list[str]] = {"XDR_LB": [], "XDR_ZJLX": [], "XDR_ZJHM": []}
        for name in extra_names:
            role = name.upper()
            if role[:3] in ("CF_", "XK_"):
                role = role[3:]
            if role in roles:
                roles[role].append(name)
        if not roles["XDR_ZJHM"]:
            return None
        return cls(tuple(roles["XDR_LB"]), tuple(roles["XDR_ZJLX"]), tuple(roles["XDR_ZJHM"]))

    def subject(self, row: Row, subject_header: str) -> Row:
        """A row without a subject code: with the identity number of the natural person it
        names as its code; as it is when it names none (an organisation, or no number:
        the records service then says the code is required). Raises :class:`RowProblem`
        for a person named by another document than an identity card. Messages name the
        columns, never the number."""
        number = _first(row.extra, self.number)
        if number is None:
            return row
        category = _first(row.extra, self.category)
        if category is not None and category != NATURAL_PERSON:
            return row
        document = _first(row.extra, self.document)
        if document in ID_CARD_TYPES:
            extra = {k: v for k, v in row.extra.items() if k not in self.number}
            return Row(number, row.source_ref, row.decided_on, row.fields, extra, row.text_cells)
        code_column = subject_header or "XDR_SHXYM"
        number_column = self.number[0].upper()
        document_column = self.document[0].upper() if self.document else number_column[:-4] + "ZJLX"
        if document is None:
            raise RowProblem(
                [
                    f"{code_column} is empty and {document_column} does not say what "
                    f"{number_column} holds: a natural person without a code is loaded by "
                    f"the number of an identity card ({document_column} 身份证)"
                ]
            )
        shown = document if len(document) <= 30 else document[:30] + "…"
        raise RowProblem(
            [
                f"{code_column} is empty and {number_column} holds the number of a document "
                f"of type {shown!r} ({document_column}): only a natural person with an "
                f"identity card ({document_column} 身份证) can be loaded by that number; "
                f"give the subject's code in {code_column}"
            ]
        )


def _first(extra: Mapping[str, str], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = extra.get(key)
        if value:
            return value
    return None


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
    """A ``fields`` object given directly (NDJSON): national codes and Chinese names
    become our names and values are normalised (NDJSON values are typed: the fields of an
    item without national codes are taken as they are); keys that are not fields of the
    item are kept as they are so that validation reports them.

    Raises :class:`RowProblem` for a field given twice (by its national code and its
    name, its Chinese name and its name, or names differing in case or blanks where they
    are matched without), naming both keys, and for the reserved
    :data:`OLD_TEXT_CELLS_MARK` key.
    """
    table = _lookup(item_code)
    national = item_code in NATIONAL_FIELDS
    out: dict[str, object] = {}
    given: dict[str, str] = {}  # our name → the key that gave it
    problems: list[str] = []
    for key, value in fields.items():
        text = str(key)
        if text == OLD_TEXT_CELLS_MARK:
            problems.append(f"fields: {text!r} is a reserved name, not a field")
            continue
        target = table.get(text.strip().upper())
        name = target[1] if target is not None and target[0] == _FIELD else text
        first = given.setdefault(name, text)
        if first != text:
            problems.append(f"fields {first!r} and {text!r} both give {name}: give it once")
            continue
        if value is None:
            continue
        if target is not None and target[0] == _FIELD:
            converted = converter(item_code, name)(value)
        elif not national:
            converted = _plain(value)
        else:
            converted = value
        if converted is not None:
            out[name] = converted
    if problems:
        raise RowProblem(problems)
    return out


# --- text cells by the item's schema (the records service) ---------------------------

_INTEGER = re.compile(r"[+-]?\d+")

_BOOLEANS: Mapping[str, bool] = {
    "true": True,
    "false": False,
    "是": True,
    "否": False,
    "1": True,
    "0": False,
}
"""Text of a boolean cell (lower-cased)."""

_Problems = list[tuple[str, str]]


def _schema_types(spec: Mapping[str, Any]) -> frozenset[str]:
    """The JSON types a property's schema names: its ``type``, else those of its ``enum``
    or ``const`` values."""
    declared = spec.get("type")
    if isinstance(declared, str):
        return frozenset((declared,))
    if isinstance(declared, list):
        return frozenset(t for t in declared if isinstance(t, str))
    enum = spec.get("enum")
    values = enum if isinstance(enum, list) else [spec["const"]] if "const" in spec else []
    return frozenset(_json_type(v) for v in values)


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "other"


def _double_integer(text: str) -> int | None:
    """An integer's text as an int, None past a double's range (±1.8e308; read without
    int()'s limit on digits)."""
    sign = "-" if text.startswith("-") else ""
    digits = text.lstrip("+-").lstrip("0") or "0"
    if len(digits) > 309:
        return None
    number = int(sign + digits)
    try:
        float(number)
    except OverflowError:
        return None
    return number


def _shown(text: str) -> str:
    """A cell's text as a message quotes it: at most 40 characters."""
    return repr(text if len(text) <= 40 else text[:40] + "…")


def _integer_of(text: str, path: str, problems: _Problems) -> object:
    if _INTEGER.fullmatch(text):
        number = _double_integer(text)
        if number is not None:
            return number
        problems.append((path, f"{_shown(text)} is {NOT_FINITE}"))
        return text
    if _NUMBER.fullmatch(text):  # 2025.0, 2.025e3
        real = float(text)
        if math.isfinite(real) and real.is_integer():
            return int(real)
    problems.append((path, f"{_shown(text)} is not an integer"))
    return text


def _number_of(text: str, path: str, problems: _Problems) -> object:
    if not _NUMBER.fullmatch(text):
        problems.append((path, f"{_shown(text)} is not a number"))
        return text
    if _INTEGER.fullmatch(text):  # as JSON reads it: 1234 an integer, 1234.5 a real
        return _integer_of(text, path, problems)
    real = float(text)
    if not math.isfinite(real):
        problems.append((path, f"{_shown(text)} is {NOT_FINITE}"))
        return text
    return real


def _boolean_of(text: str, path: str, problems: _Problems) -> object:
    value = _BOOLEANS.get(text.lower())
    if value is None:
        problems.append(
            (path, f"{_shown(text)} is not a boolean (true or false, 是 or 否, 1 or 0)")
        )
        return text
    return value


def _array_of(spec: Mapping[str, Any], text: str, path: str, problems: _Problems) -> object:
    """A list cell split as penalty kinds are: at ``;`` (also ``；``, ``,``, ``，``), each
    part converted by the schema of the array's items."""
    parts = [p.strip() for p in _KIND_SEPARATORS.split(text)]
    items = spec.get("items")
    if not isinstance(items, Mapping):
        return [p for p in parts if p] or None
    out = [
        _typed_cell(items, part, f"{path}.{i}", problems)
        for i, part in enumerate(p for p in parts if p)
    ]
    return out or None


def _typed_cell(spec: Mapping[str, Any], value: object, path: str, problems: _Problems) -> object:
    """One cell's value by its property's schema; a problem (and the value as it was) when
    its text does not read as the type; None for a list cell with no item."""
    types = _schema_types(spec)
    if isinstance(value, str):
        text = value.strip()
        if not types or "string" in types or not text:
            return value
        if "number" in types:
            return _number_of(text, path, problems)
        if "integer" in types:
            return _integer_of(text, path, problems)
        if "boolean" in types:
            return _boolean_of(text, path, problems)
        if "array" in types:
            return _array_of(spec, text, path, problems)
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    # a spreadsheet's number cell
    if "string" in types and not types & {"number", "integer"}:
        return to_text(value)
    if (
        isinstance(value, float)
        and "integer" in types
        and "number" not in types
        and math.isfinite(value)
        and value.is_integer()
    ):
        return int(value)
    return value


def from_text_cells(
    schema: Mapping[str, Any], fields: Mapping[str, object]
) -> tuple[dict[str, object], list[tuple[str, str]]]:
    """The fields of a row read from a file's text cells (:attr:`Row.text_cells`)
    converted by the types of the item's JSON Schema
    properties: text to an integer, a number (an integer when written as one, as JSON
    reads it), a boolean (true/false, 是/否, 1/0) or a list (split as penalty kinds are,
    each item converted by ``items``); a spreadsheet's number cell in a text property to
    text. Fields that are no property, and properties of other types (text, enums of
    text, objects), are kept as they are, for validation to judge.

    Answers the fields and the problems as ``(path, message)``, the path as validation
    names it (``fields.year``, ``fields.kinds.1``): a text that does not read as its
    type is kept as it was and named, e.g. ``("fields.year", "'20x5' is not an
    integer")``."""
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return dict(fields), []
    out: dict[str, object] = {}
    problems: _Problems = []
    for name, value in fields.items():
        spec = properties.get(name)
        if isinstance(spec, Mapping):
            value = _typed_cell(spec, value, f"fields.{name}", problems)
            if value is None:
                continue
        out[name] = value
    return out, problems
