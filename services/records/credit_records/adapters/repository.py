"""Reads and writes records; never commits (the use case does)."""

from __future__ import annotations

import datetime as dt
import functools
import json as _json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from credit_common.db import GUID, JsonText, copy_escape, copy_lines, insert_rows
from credit_common.timeutil import china_date
from credit_records.adapters import tables as t
from credit_records.domain.publicity import Window
from credit_records.domain.records import StoredRecord, Version, canonical_json, content_hash


def record_row(record: StoredRecord) -> dict[str, Any]:
    w = record.window
    return {
        "id": record.id,
        "subject_id": record.subject_id,
        "subject_key": record.subject_key,
        "item_code": record.item_code,
        "department": record.department,
        "source_ref": record.source_ref,
        "decided_on": record.decided_on,
        "content_hash": record.content_hash,
        "current_version": record.current_version,
        "severity": w.severity,
        "never_public": w.never_public,
        "publicity_until": w.publicity_until,
        "retention_until": w.retention_until,
        "repairable": w.repairable,
        "repair_possible_from": w.repair_possible_from,
        "late": record.late,
        "submitted_at": record.submitted_at,
        "submitted_by": record.submitted_by,
        "updated_at": record.updated_at,
        "withdrawn_at": record.withdrawn_at,
        "repaired_at": record.repaired_at,
        "open_objections": 0,
        "unlisted_at": record.unlisted_at,
    }


def version_row(record_id: uuid.UUID, v: Version) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "version": v.version,
        "fields": v.fields if v.fields_json is None else JsonText(v.fields_json),
        "schema_version": v.schema_version,
        "recorded_at": v.recorded_at,
        "recorded_by": v.recorded_by,
        "department": v.department,
        "reason": v.reason,
    }


# A bulk chunk as COPY text lines (see credit_common.db.copy_lines): psycopg's write_row
# formats value by value, UUIDs through a Python dumper (about a seventh of the records
# service's work in a bulk load). The columns and values of record_row and version_row.
RECORD_COLUMNS = tuple(t.records.c.keys())
VERSION_COLUMNS = tuple(t.record_versions.c.keys())
_BOOL = {True: "t", False: "f"}


# Remembered: a chunk's records share their moments and most of their dates (an aware
# time's isoformat() costs 1.8 µs, a date's 0.6 µs, a remembered one 0.2 µs).
@functools.lru_cache(maxsize=4096)
def _day(value: dt.date | None) -> str:
    return "\\N" if value is None else value.isoformat()


def _moment(value: dt.datetime | None) -> str:
    if value is None:
        return "\\N"
    if value.tzinfo is dt.UTC:  # as every moment stored is made (utcnow)
        return _utc_text(value)
    if value.tzinfo is None:
        raise ValueError("a naive time cannot be stored (its zone would be guessed)")
    return value.isoformat()


# Only UTC moments are remembered: in a zone with summer time two moments an hour apart
# (fold 0 and 1) compare and hash equal, and one would be given the other's text.
@functools.lru_cache(maxsize=1024)
def _utc_text(value: dt.datetime) -> str:
    return value.isoformat()


def _copy_line(record: StoredRecord) -> str:
    w = record.window
    return (
        "\t".join(
            (
                record.id.hex,
                record.subject_id.hex,
                copy_escape(record.subject_key),
                copy_escape(record.item_code),
                copy_escape(record.department),
                copy_escape(record.source_ref),
                _day(record.decided_on),
                copy_escape(record.content_hash),
                str(record.current_version),
                copy_escape(w.severity),
                _BOOL[w.never_public],
                _day(w.publicity_until),
                _day(w.retention_until),
                _BOOL[w.repairable],
                _day(w.repair_possible_from),
                _BOOL[record.late],
                _moment(record.submitted_at),
                copy_escape(record.submitted_by),
                _moment(record.updated_at),
                _moment(record.withdrawn_at),
                _moment(record.repaired_at),
                "0",
                _moment(record.unlisted_at),
                "\\N",  # expiry_told_at: a new record's expiry is not told yet
            )
        )
        + "\n"
    )


def _copy_version_line(record_id: uuid.UUID, v: Version) -> str:
    fields = v.fields_json if v.fields_json is not None else _json.dumps(v.fields)
    return (
        "\t".join(
            (
                record_id.hex,
                str(v.version),
                copy_escape(fields),
                str(v.schema_version),
                _moment(v.recorded_at),
                copy_escape(v.recorded_by),
                copy_escape(v.department),
                copy_escape(v.reason),
            )
        )
        + "\n"
    )


def _record(row: sa.RowMapping) -> StoredRecord:
    # A mapping read by key, not a Row's attributes: see credit_common.db.
    return StoredRecord(
        id=row["id"],
        subject_id=row["subject_id"],
        subject_key=row["subject_key"],
        item_code=row["item_code"],
        department=row["department"],
        source_ref=row["source_ref"],
        decided_on=row["decided_on"],
        content_hash=row["content_hash"],
        current_version=row["current_version"],
        window=Window(
            never_public=row["never_public"],
            publicity_until=row["publicity_until"],
            retention_until=row["retention_until"],
            repairable=row["repairable"],
            repair_possible_from=row["repair_possible_from"],
            severity=row["severity"],
        ),
        late=row["late"],
        submitted_at=row["submitted_at"],
        submitted_by=row["submitted_by"],
        updated_at=row["updated_at"],
        withdrawn_at=row["withdrawn_at"],
        repaired_at=row["repaired_at"],
        unlisted_at=row["unlisted_at"],
    )


# Records with their versions and objection marks in one statement: a row per version of
# each record, and per mark when a record has marks (marks are few and versions mostly
# one, so the product stays small). One statement needs no snapshot transaction (no BEGIN
# and COMMIT round trips) to be consistent. The fields come as the JSON text the database
# holds, not decoded here and encoded again for a reply.
_V = t.record_versions.c
_M = t.objection_marks.c


def _with_versions_and_marks(where: sa.ColumnElement[bool]) -> sa.Select[Any]:
    return (
        sa.select(
            t.records,
            _V.version.label("v_version"),
            sa.cast(_V.fields, sa.Text()).label("v_fields"),
            _V.schema_version.label("v_schema_version"),
            _V.recorded_at.label("v_recorded_at"),
            _V.recorded_by.label("v_recorded_by"),
            _V.department.label("v_department"),
            _V.reason.label("v_reason"),
            _M.objection_id.label("m_objection_id"),
            _M.opened_at.label("m_opened_at"),
            _M.closed_at.label("m_closed_at"),
        )
        .join(t.record_versions, _V.record_id == t.records.c.id)
        .outerjoin(t.objection_marks, _M.record_id == t.records.c.id)
        .where(where)
        .order_by(t.records.c.decided_on.desc(), t.records.c.id, _V.version, _M.objection_id)
    )


# Built once, with no IN list, so each is compiled once and PostgreSQL keeps it prepared.
# A subject's records are the commonest read (records, reports).
_OF_SUBJECT = sa.and_(
    t.records.c.subject_id == sa.bindparam("subject_id"),
    t.records.c.submitted_at <= sa.bindparam("at"),
)
# After a record, in the order of `_with_versions_and_marks` (newest decision first).
_AFTER = sa.or_(
    t.records.c.decided_on < sa.bindparam("after_decided_on"),
    sa.and_(
        t.records.c.decided_on == sa.bindparam("after_decided_on"),
        t.records.c.id > sa.bindparam("after_id"),
    ),
)
_SUBJECT_ROWS = _with_versions_and_marks(_OF_SUBJECT).limit(sa.bindparam("rows"))
_SUBJECT_ROWS_AFTER = _with_versions_and_marks(sa.and_(_OF_SUBJECT, _AFTER)).limit(
    sa.bindparam("rows")
)
# A subject's records are read this many rows (a row per version and mark) at a time: a
# page needs the records up to it, not all of a subject that has thousands.
SUBJECT_CHUNK_ROWS = 2000
# Where a subject's next chunk begins: the last record read (its decision date and id).
Cursor = tuple[dt.date, uuid.UUID]
_RECORD_ROWS = _with_versions_and_marks(t.records.c.id == sa.bindparam("record_id"))
# A change locks the record's row by itself first. Locked in the joined statement, a row
# another transaction changed meanwhile would be read anew once that one committed, but
# its versions and marks as they were before (PostgreSQL re-checks only the locked row):
# a version added by the other transaction would be missing.
_LOCK_RECORD = (
    sa.select(t.records.c.id).where(t.records.c.id == sa.bindparam("record_id")).with_for_update()
)


def _records_of(rows: Iterable[sa.RowMapping], wanted: set[str] | None) -> list[StoredRecord]:
    """The records of `_with_versions_and_marks`'s rows (of the `wanted` items only, when
    given), each with its versions in order and its marks once."""
    records: list[StoredRecord] = []
    record: StoredRecord | None = None
    marked: set[str] = set()
    for row in rows:
        if wanted is not None and row["item_code"] not in wanted:
            continue
        if record is None or record.id != row["id"]:
            record = _record(row)
            records.append(record)
            marked = set()
        if not record.versions or record.versions[-1].version != row["v_version"]:
            record.versions.append(
                Version(
                    row["v_version"],
                    None,
                    row["v_schema_version"],
                    row["v_recorded_at"],
                    row["v_recorded_by"],
                    row["v_department"],
                    row["v_reason"],
                    row["v_fields"],
                )
            )
        if (mark := row["m_objection_id"]) is not None and mark not in marked:
            marked.add(mark)
            record.marks.append((row["m_opened_at"], row["m_closed_at"]))
    return records


def kept_until(retention_until: dt.date, now: dt.datetime) -> dict[str, Any]:
    """The columns that store a record's last day kept from `now` on: a record told expired
    whose retention now reaches today or later lasts again, to be told anew when it ends."""
    if retention_until >= china_date(now):
        return {"retention_until": retention_until, "expiry_told_at": None}
    return {"retention_until": retention_until}


class RecordRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, record_id: uuid.UUID, *, for_update: bool = False) -> StoredRecord | None:
        """The record with its versions and marks; `for_update`: its row locked first (on
        PostgreSQL; SQLite has one writer at a time), then read as it stands."""
        bound = {"record_id": record_id}
        if for_update and self.conn.dialect.name == "postgresql":
            await self.conn.execute(_LOCK_RECORD, bound)
        rows = await self.conn.execute(_RECORD_ROWS, bound)
        found = _records_of(rows.mappings(), None)
        return found[0] if found else None

    async def for_subject(
        self,
        subject_id: uuid.UUID,
        *,
        item_codes: Iterable[str] | None,
        submitted_before: dt.datetime,
        after: Cursor | None = None,
        rows: int = SUBJECT_CHUNK_ROWS,
    ) -> tuple[list[StoredRecord], Cursor | None]:
        """The subject's records submitted by `submitted_before` (of `item_codes` only, when
        given), newest decision first, each with its versions and objection marks: those
        after `after`, about `rows` rows' worth; and the cursor to read on from (None: there
        are no more)."""
        wanted = None if item_codes is None else set(item_codes)
        bound: dict[str, Any] = {"subject_id": subject_id, "at": submitted_before, "rows": rows}
        statement = _SUBJECT_ROWS
        if after is not None:
            bound |= {"after_decided_on": after[0], "after_id": after[1]}
            statement = _SUBJECT_ROWS_AFTER
        found = (await self.conn.execute(statement, bound)).mappings().all()
        if len(found) < rows:
            return _records_of(found, wanted), None
        # A full chunk: its last record's further versions or marks may lie beyond it, so
        # that record is read whole on its own (it may be the chunk's only one).
        last = found[-1]["id"]
        whole = [row for row in found if row["id"] != last]
        rest = (await self.conn.execute(_RECORD_ROWS, {"record_id": last})).mappings().all()
        records = _records_of(whole, wanted) + _records_of(rest, wanted)
        return records, (found[-1]["decided_on"], last)

    async def by_source_refs(
        self, department: str, item_code: str, refs: Iterable[str]
    ) -> dict[str, tuple[uuid.UUID, str]]:
        """(record id, content hash) of the records these source refs already name."""
        refs = list(refs)
        found: dict[str, tuple[uuid.UUID, str]] = {}
        # An IN list, not credit_common.db.among: with among's unnested array, a bulk load
        # of 300,000 rows cost PostgreSQL 17 more CPU seconds (about 55 ms a chunk).
        for start in range(0, len(refs), 1000):
            rows = await self.conn.execute(
                sa.select(t.records.c.source_ref, t.records.c.id, t.records.c.content_hash).where(
                    t.records.c.department == department,
                    t.records.c.item_code == item_code,
                    t.records.c.source_ref.in_(refs[start : start + 1000]),
                )
            )
            found.update({r.source_ref: (r.id, r.content_hash) for r in rows})
        return found

    async def insert(self, records: Sequence[StoredRecord]) -> None:
        """Records with their versions (COPY on PostgreSQL when there are several)."""
        if self.conn.dialect.name == "postgresql" and len(records) > 1:
            await copy_lines(
                self.conn, t.records, RECORD_COLUMNS, "".join(map(_copy_line, records))
            )
            await copy_lines(
                self.conn,
                t.record_versions,
                VERSION_COLUMNS,
                "".join(_copy_version_line(r.id, v) for r in records for v in r.versions),
            )
            return
        await insert_rows(self.conn, t.records, [record_row(r) for r in records])
        await insert_rows(
            self.conn,
            t.record_versions,
            [version_row(r.id, v) for r in records for v in r.versions],
        )

    async def add_version(
        self,
        record_id: uuid.UUID,
        version: Version,
        window: Window,
        now: dt.datetime,
        *,
        content_hash: str,
    ) -> None:
        """Makes `version` the record's current one, with its window and the content hash
        of the record holding its fields."""
        # insert_rows: the fields may come as the JSON text they are stored as (JsonText).
        await insert_rows(self.conn, t.record_versions, [version_row(record_id, version)])
        await self.conn.execute(
            sa.update(t.records)
            .where(t.records.c.id == record_id)
            .values(
                current_version=version.version,
                content_hash=content_hash,
                updated_at=now,
                severity=window.severity,
                never_public=window.never_public,
                publicity_until=window.publicity_until,
                repairable=window.repairable,
                repair_possible_from=window.repair_possible_from,
                **kept_until(window.retention_until, now),
            )
        )

    async def rehash(self, record_ids: Sequence[uuid.UUID]) -> None:
        """Stores each record's content hash anew from its current version's fields and its
        subject as they now stand (after a merge moved it)."""
        changes: list[dict[str, Any]] = []
        for start in range(0, len(record_ids), 1000):
            rows = await self.conn.execute(
                sa.select(
                    t.records.c.id,
                    t.records.c.subject_id,
                    t.records.c.item_code,
                    t.records.c.decided_on,
                    t.records.c.content_hash,
                    sa.cast(_V.fields, sa.Text()).label("fields"),
                )
                .join(
                    t.record_versions,
                    sa.and_(
                        _V.record_id == t.records.c.id,
                        _V.version == t.records.c.current_version,
                    ),
                )
                .where(t.records.c.id.in_(record_ids[start : start + 1000]))
            )
            for row in rows:
                digest = content_hash(
                    row.subject_id,
                    row.item_code,
                    row.decided_on,
                    canonical_json(_json.loads(row.fields)),
                )
                if digest != row.content_hash:
                    changes.append({"b_id": row.id, "b_hash": digest})
        if changes:
            await self.conn.execute(
                sa.update(t.records)
                .where(t.records.c.id == sa.bindparam("b_id"))
                .values(content_hash=sa.bindparam("b_hash")),
                changes,
            )

    async def set_subjects(self, records: Sequence[StoredRecord]) -> None:
        """Stores each record's subject and content hash as they now are (moved by a merge)."""
        if not records:
            return
        await self.conn.execute(
            sa.update(t.records)
            .where(t.records.c.id == sa.bindparam("b_id"))
            .values(
                subject_id=sa.bindparam("b_subject_id", type_=GUID()),
                subject_key=sa.bindparam("b_subject_key"),
                content_hash=sa.bindparam("b_hash"),
            ),
            [
                {
                    "b_id": r.id,
                    "b_subject_id": r.subject_id,
                    "b_subject_key": r.subject_key,
                    "b_hash": r.content_hash,
                }
                for r in records
            ],
        )

    async def set_fields(self, record_id: uuid.UUID, **values: Any) -> None:
        await self.conn.execute(
            sa.update(t.records).where(t.records.c.id == record_id).values(**values)
        )

    async def add_history(
        self,
        record_id: uuid.UUID,
        change: str,
        at: dt.datetime,
        actor: str,
        reason: str = "",
        detail: str = "",
    ) -> None:
        await self.conn.execute(
            sa.insert(t.record_history).values(
                record_id=record_id, change=change, at=at, actor=actor, reason=reason, detail=detail
            )
        )

    async def add_histories(
        self, changes: Sequence[tuple[uuid.UUID, str, dt.datetime, str, str, str]]
    ) -> None:
        """History rows, each (record id, change, at, actor, reason, detail), in one go."""
        if not changes:
            return
        names = ("record_id", "change", "at", "actor", "reason", "detail")
        await self.conn.execute(
            sa.insert(t.record_history), [dict(zip(names, c, strict=True)) for c in changes]
        )
