"""A stored credit record and what it looks like at a level and a moment."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

from credit_common.masking import is_person_key
from credit_common.timeutil import china_date
from credit_records.domain.catalog import CatalogItem, Level
from credit_records.domain.publicity import (
    Moment,
    Window,
    conduct_ended,
    personal_cap,
    publicly_visible,
    status_at,
    visible_at,
    window_for,
    with_publicity_end,
)


def canonical_json(fields: dict[str, Any]) -> str:
    """Fields as compact JSON with sorted keys, each whole number written as an integer:
    hashed into the content hash and stored as they are, so a bulk load encodes each row's
    fields once. A record sent alone comes through a protobuf Struct, whose numbers are all
    doubles (2025 arrives as 2025.0), one sent in bulk keeps its file's integers: written
    alike, the same record hashes alike either way."""
    return json.dumps(
        _whole_numbers(fields), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )


def _whole_number(value: float) -> int | float:
    """A float that is a whole number as an int: the number its shortest decimal text
    writes (1e+23 as 10**23, not as the double nearest it), which is also what PostgreSQL's
    jsonb gives back for it; any other float (and NaN, the infinities) as it is."""
    if not value.is_integer():
        return value
    if -1e16 < value < 1e16:  # written without an exponent, and exact
        return int(value)
    return int(Decimal(repr(value)))


def _whole_numbers(value: Any) -> Any:
    """`value` with its whole-number floats made ints, at any depth; the same object when it
    holds none (most rows: nothing copied, and only lists and objects looked into)."""
    kind = type(value)
    if kind is float:
        return _whole_number(value)
    if kind is dict:
        changed = None
        for key, inner in value.items():
            if type(inner) not in _SCALARS and (made := _whole_numbers(inner)) is not inner:
                if changed is None:
                    changed = dict(value)
                changed[key] = made
        return value if changed is None else changed
    if kind is list:
        for i, inner in enumerate(value):
            if type(inner) not in _SCALARS and (made := _whole_numbers(inner)) is not inner:
                return [*value[:i], made, *(_whole_numbers(rest) for rest in value[i + 1 :])]
        return value
    return value


# Values no whole-number float can hide in (a float that is one is made an int).
_SCALARS = frozenset({str, int, bool, type(None)})


def content_hash(
    subject_id: uuid.UUID, item_code: str, decided_on: dt.date, fields_json: str
) -> str:
    """SHA-256 of `[subject id, item code, decision date, fields]` as compact JSON with
    sorted keys (the fields given as `canonical_json` made them)."""
    # A UUID's and a date's text need no JSON escapes, nor does an identifier such as an
    # item code (no quote, backslash or control character): written as they are, not
    # through json.dumps (13 → 5 µs a record in a bulk load).
    item = (
        f'"{item_code}"' if item_code.isidentifier() else json.dumps(item_code, ensure_ascii=False)
    )
    text = f'["{subject_id}",{item},"{decided_on.isoformat()}",{fields_json}]'
    return hashlib.sha256(text.encode()).hexdigest()


# Equal only to itself: a version read as JSON text and one given as a mapping hold the
# same fields in different attributes.
@dataclass(frozen=True, eq=False)
class Version:
    version: int
    # None when the version was read as JSON text only (`fields_json`): `fields` decodes
    # that text when something asks for it, which a read that passes the text on never does.
    given_fields: dict[str, Any] | None
    schema_version: int
    recorded_at: dt.datetime
    recorded_by: str
    department: str
    reason: str
    # The fields as JSON text: as canonical_json encoded them before they were stored, or
    # as the database gives them back (PostgreSQL's jsonb text orders keys its own way: a
    # record's fields keep no key order, as a Struct keeps none either).
    fields_json: str | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.given_fields is None and self.fields_json is None:
            raise ValueError("a version needs its fields, as a mapping or as JSON text")

    @cached_property
    def fields(self) -> dict[str, Any]:
        if self.given_fields is not None:
            return self.given_fields
        decoded: dict[str, Any] = json.loads(self.fields_json or "{}")
        return decoded


@dataclass
class StoredRecord:
    id: uuid.UUID
    subject_id: uuid.UUID
    subject_key: str
    item_code: str
    department: str
    source_ref: str
    decided_on: dt.date
    content_hash: str
    current_version: int
    window: Window
    late: bool
    submitted_at: dt.datetime
    submitted_by: str
    updated_at: dt.datetime
    withdrawn_at: dt.datetime | None
    repaired_at: dt.datetime | None
    # A "while listed" record's end of publicity: when the listings it is the basis of end
    # (None: not known to end).
    unlisted_at: dt.datetime | None = None
    versions: list[Version] = field(default_factory=list)
    # (opened_at, closed_at) of each objection that marked the record.
    marks: list[tuple[dt.datetime, dt.datetime | None]] = field(default_factory=list)

    @property
    def current(self) -> Version:
        """The current version (of a record read with its versions)."""
        return next(v for v in self.versions if v.version == self.current_version)

    @property
    def publicity_until(self) -> dt.date | None:
        """The last day the record may be public: its window's, or for a "while listed"
        record the day its listings end, once that is known."""
        return self.publicity_end(self.window)

    def publicity_end(self, window: Window) -> dt.date | None:
        """The last public day under `window` (the current one or a past version's)."""
        if window.publicity_until is None and self.unlisted_at is not None:
            # Its last public day: that of the last moment before it (a listing's validity
            # ends at midnight, after its last day).
            return china_date(self.unlisted_at - dt.timedelta(microseconds=1))
        return window.publicity_until

    def window_of(self, version: Version, item: CatalogItem) -> Window:
        """The window the record had while `version` was current: the stored one for the
        current version, else worked out from that version's fields (a correction may have
        changed the severity or the stated deadline), by the item's current rule; either
        `settled`."""
        if version.version != self.current_version:
            window = window_for(item, self.decided_on, version.fields)
        else:
            window = self.window
        return self.settled(window, item, lambda: version.fields)

    def settled(
        self, window: Window, item: CatalogItem, fields: Callable[[], dict[str, Any]]
    ) -> Window:
        """`window` (of the version whose `fields` these are) as this record has it: a
        window without an end of its own kept for the item's retention after the end of
        the record's listings once that is known, and without end until then; then a
        natural person's negative record capped at the fifth anniversary of the end of its
        conduct (its decision; for a "while listed" record, its listings' end once known).
        The same whatever moment it is read at: a listing's end is its end, and before it
        the record is public, so within its retention."""
        last_public = self.publicity_end(window)
        window = with_publicity_end(window, item, self.decided_on, last_public)
        if is_person_key(self.subject_key):
            ended = conduct_ended(item, self.decided_on, last_public)
            return personal_cap(window, item, ended, fields)
        return window

    def fields_hash(self, fields: dict[str, Any]) -> str:
        """The content hash of the record holding `fields`, under its subject as it now is
        (a merge moves the record to the survivor)."""
        return content_hash(
            self.subject_id, self.item_code, self.decided_on, canonical_json(fields)
        )

    def version_at(self, at: dt.datetime) -> Version | None:
        known = [v for v in self.versions if v.recorded_at <= at]
        return known[-1] if known else None

    def moment(self, at: dt.datetime) -> Moment:
        return Moment(
            withdrawn=self.withdrawn_at is not None and self.withdrawn_at <= at,
            repaired=self.repaired_at is not None and self.repaired_at <= at,
            unlisted=self.unlisted_at is not None and self.unlisted_at <= at,
        )

    def under_objection(self, at: dt.datetime) -> bool:
        return any(
            opened <= at and (closed is None or closed > at) for opened, closed in self.marks
        )


@dataclass(frozen=True)
class RecordView:
    """A record as one level sees it at one moment."""

    record: StoredRecord
    item: CatalogItem
    version: Version
    # The record's window while that version was current.
    window: Window
    status: str
    publicly_visible: bool
    repaired: bool
    under_objection: bool
    level: Level


def view(
    record: StoredRecord, item: CatalogItem, level: Level, at: dt.datetime
) -> RecordView | None:
    """What `level` saw of the record at `at`, or None if it saw nothing."""
    version = record.version_at(at)
    if version is None:
        return None
    moment = record.moment(at)
    day = china_date(at)
    window = record.window_of(version, item)
    if not visible_at(item, window, moment, day, level):
        return None
    return RecordView(
        record=record,
        item=item,
        version=version,
        window=window,
        status=status_at(window, version.version, moment, day),
        publicly_visible=publicly_visible(window, moment, day) and item.disclosure == Level.PUBLIC,
        repaired=moment.repaired,
        under_objection=record.under_objection(at),
        level=level,
    )
