"""Bulk ingestion: rows checked one by one, stored chunk by chunk (COPY on PostgreSQL),
idempotent by source_ref so a load cut off half-way can simply be sent again."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import heapq
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from psycopg.errors import UniqueViolation
from sqlalchemy.ext.asyncio import AsyncConnection

from credit.events.v1 import records_pb2 as ev
from credit_common.db import Database
from credit_common.directory import SubjectDirectory, unknown_subject
from credit_common.errors import FieldViolation
from credit_common.ingest.fieldmap import OLD_TEXT_CELLS_MARK, from_text_cells
from credit_common.outbox import Event, Outbox
from credit_common.timeutil import china_date, utcnow
from credit_common.workdays import WorkCalendar
from credit_records.adapters.catalog_store import CatalogStore
from credit_records.adapters.repository import RecordRepository
from credit_records.domain.records import StoredRecord
from credit_records.service_layer.checks import check_row, new_record, sent_again
from credit_records.service_layer.commands import Caller
from credit_records.service_layer.merges import follow_merges
from credit_records.service_layer.records import summary
from credit_records.service_layer.values import read_fields

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RowIn:
    row: int
    subject_code: str
    item_code: str
    source_ref: str
    decided_on: str
    fields_json: str
    parse_errors: tuple[FieldViolation, ...] = ()
    text_cells: bool = False  # the fields are a file's text cells (IngestRow.text_cells)


@dataclass
class IngestResult:
    accepted: int = 0
    unchanged: int = 0
    rejected_count: int = 0
    atomic: bool = False
    rolled_back: bool = False
    # The lowest-numbered rejections so far, at most `limit` of them: a heap of (-row,
    # order, errors), its highest row first. Rows come out of order (a chunk is checked
    # while the one before it is stored, and storing rejects rows too), so the first ones
    # rejected are not the first rows of the file.
    _kept: list[tuple[int, int, list[FieldViolation]]] = field(default_factory=list, repr=False)

    def keep(self, row: int, errors: list[FieldViolation], limit: int) -> None:
        """Lists a rejection, if it is among the `limit` lowest rows so far. The order
        number, unique among those kept, settles ties before the errors are compared."""
        if len(self._kept) < limit:
            heapq.heappush(self._kept, (-row, len(self._kept), errors))
        elif self._kept and row < -self._kept[0][0]:
            heapq.heapreplace(self._kept, (-row, self._kept[0][1], errors))

    @property
    def rejected(self) -> list[tuple[int, list[FieldViolation]]]:
        """The rejections listed: those kept, in row order."""
        return sorted(((-row, errors) for row, _order, errors in self._kept), key=_row)


def _row(rejection: tuple[int, list[FieldViolation]]) -> int:
    return rejection[0]


class _RollBack(Exception):
    pass


class Ingestion:
    def __init__(
        self,
        db: Database,
        catalog: CatalogStore,
        directory: SubjectDirectory,
        outbox: Outbox,
        calendar: WorkCalendar,
        *,
        max_listed: int = 10_000,
    ) -> None:
        self.db = db
        self.catalog = catalog
        self.directory = directory
        self.outbox = outbox
        self.calendar = calendar
        self.max_listed = max_listed

    async def run(
        self, caller: Caller, chunks: AsyncIterator[Sequence[RowIn]], *, atomic: bool
    ) -> IngestResult:
        """Ingests every chunk; with `atomic`, stores nothing unless every row is accepted.

        The next chunk is checked and its subjects resolved while the current one is
        being stored, so the registry, this service and the database work side by side."""
        result = IngestResult(atomic=atomic)
        prepared = self._prepared(caller, chunks, result)
        if not atomic:
            async for fresh in prepared:
                await self._store_in_own_transaction(fresh, result)
            return result
        try:
            async with self.db.transaction() as conn:
                async for fresh in prepared:
                    await self._store(conn, fresh, result)
                if result.rejected_count:
                    raise _RollBack
        except _RollBack:
            result.rolled_back = True
            result.accepted = 0
        return result

    async def _prepared(
        self, caller: Caller, chunks: AsyncIterator[Sequence[RowIn]], result: IngestResult
    ) -> AsyncIterator[list[tuple[RowIn, StoredRecord]]]:
        """The chunks' acceptable rows as records, one chunk prepared ahead of the consumer."""
        queue: asyncio.Queue[list[tuple[RowIn, StoredRecord]] | BaseException | None] = (
            asyncio.Queue(maxsize=1)
        )

        async def produce() -> None:
            try:
                async for chunk in chunks:
                    await queue.put(await self._prepare(caller, chunk, result))
                await queue.put(None)
            except Exception as error:  # handed to the consumer, which raises it
                await queue.put(error)

        producer = asyncio.create_task(produce())
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer

    async def _store_in_own_transaction(
        self, fresh: list[tuple[RowIn, StoredRecord]], result: IngestResult
    ) -> None:
        for attempt in range(2):
            attempt_result = IngestResult()
            try:
                async with self.db.transaction() as conn:
                    await self._store(conn, fresh, attempt_result)
            except (sa.exc.IntegrityError, UniqueViolation):
                if attempt:
                    raise
                log.info("a concurrent submission took a source_ref of this chunk; checking again")
                continue
            result.accepted += attempt_result.accepted
            result.unchanged += attempt_result.unchanged
            result.rejected_count += attempt_result.rejected_count
            for row, errors in attempt_result.rejected:
                result.keep(row, errors, self.max_listed)
            return

    def _reject(self, result: IngestResult, row: int, errors: list[FieldViolation]) -> None:
        result.rejected_count += 1
        result.keep(row, errors, self.max_listed)

    async def _prepare(
        self, caller: Caller, chunk: Sequence[RowIn], result: IngestResult
    ) -> list[tuple[RowIn, StoredRecord]]:
        """Checks the rows against the catalog and the registry; rejected rows go to
        `result`, the others come back as new records (not stored yet)."""
        now = utcnow()
        today = china_date(now)
        checked: list[tuple[RowIn, Any]] = []
        for row in chunk:
            if row.parse_errors:
                self._reject(result, row.row, list(row.parse_errors))
                continue
            try:
                fields, fields_json = read_fields(row.fields_json)
            except ValueError:
                self._reject(result, row.row, [FieldViolation("fields", "not a JSON object")])
                continue
            except RecursionError:
                self._reject(result, row.row, [FieldViolation("fields", "nested too deep")])
                continue
            unread: list[FieldViolation] = []
            if isinstance(fields, dict) and (
                row.text_cells or fields.pop(OLD_TEXT_CELLS_MARK, None) is True
            ):
                fields, unread = await self._from_text_cells(row.item_code, fields)
            ok, problems = await check_row(
                self.catalog,
                caller.department,
                row.item_code,
                row.source_ref,
                row.decided_on,
                fields,
                today,
                fields_json=fields_json,
            )
            if unread:
                problems = _with_unread(problems, unread)
            if not row.subject_code.strip():
                problems.insert(0, FieldViolation("subject_code", "required"))
            if problems or ok is None:
                self._reject(result, row.row, problems)
            else:
                checked.append((row, ok))
        subjects = await self.directory.resolve([r.subject_code for r, _ in checked])
        unknown = [r.subject_code for r, _ in checked if subjects.get(r.subject_code) is None]
        invalid = await self.directory.invalid(unknown) if unknown else {}
        fresh: list[tuple[RowIn, StoredRecord]] = []
        for row, ok in checked:
            subject = subjects.get(row.subject_code)
            if subject is None:
                self._reject(result, row.row, [unknown_subject(invalid.get(row.subject_code, ""))])
                continue
            record, _note = new_record(
                ok,
                subject_id=subject.subject_id,
                subject_key=subject.key,
                department=caller.department,
                source_ref=row.source_ref.strip(),
                client_id=caller.client_id,
                now=now,
                today=today,
                calendar=self.calendar,
            )
            fresh.append((row, record))
        return fresh

    async def _from_text_cells(
        self, item_code: str, fields: dict[str, Any]
    ) -> tuple[dict[str, Any], list[FieldViolation]]:
        """A row read from a CSV file's or a spreadsheet's text cells (the gateway marks
        it `text_cells`; a gateway older than that put OLD_TEXT_CELLS_MARK among its
        fields, which the caller has taken out): the text converted by the item's schema
        (the year of a tax credit grade to an integer...), with a violation for each text
        that does not read as its field's type. An unknown item is left to `check_row`."""
        item = await self.catalog.get(item_code)
        if item is None:
            return fields, []
        converted, problems = from_text_cells(item.fields_schema, fields)
        return converted, [FieldViolation(path, message) for path, message in problems]

    async def _store(
        self, conn: AsyncConnection, fresh: list[tuple[RowIn, StoredRecord]], result: IngestResult
    ) -> None:
        """Stores the records whose source_ref is new, with their event, in `conn` (those
        of a merged subject under its survivor)."""
        to_store = await self._drop_known(conn, fresh, result)
        if not to_store:
            return
        await RecordRepository(conn).insert(to_store)
        await follow_merges(conn, to_store)
        await self.outbox.add(
            conn,
            Event("record.created", "", ev.RecordsCreated(records=[summary(r) for r in to_store])),
        )
        result.accepted += len(to_store)

    async def _drop_known(
        self, conn: AsyncConnection, fresh: list[tuple[RowIn, StoredRecord]], result: IngestResult
    ) -> list[StoredRecord]:
        """Rows whose source_ref is stored already: the same content is unchanged, other
        content is a conflict. So is a second row with the same source_ref in this chunk."""
        repo = RecordRepository(conn)
        by_item: dict[str, list[str]] = {}
        for _, record in fresh:
            by_item.setdefault(record.item_code, []).append(record.source_ref)
        known: dict[tuple[str, str], str] = {}
        stored_ids: dict[tuple[str, str], uuid.UUID] = {}
        department = fresh[0][1].department if fresh else ""
        for item_code, refs in by_item.items():
            for ref, (id_, hash_) in (
                await repo.by_source_refs(department, item_code, refs)
            ).items():
                known[(item_code, ref)] = hash_
                stored_ids[(item_code, ref)] = id_
        to_store: list[StoredRecord] = []
        for row, record in fresh:
            key = (record.item_code, record.source_ref)
            stored_hash = known.get(key)
            if stored_hash is None:
                known[key] = record.content_hash
                to_store.append(record)
            elif stored_hash == record.content_hash or await sent_again(
                self.directory,
                await repo.get(stored_ids[key]) if key in stored_ids else None,
                record,
            ):
                result.unchanged += 1
            else:
                self._reject(
                    result,
                    row.row,
                    [
                        FieldViolation(
                            "source_ref",
                            f"{record.source_ref!r} already names a record with other content",
                        )
                    ],
                )
        return to_store


def _with_unread(
    problems: list[FieldViolation], unread: list[FieldViolation]
) -> list[FieldViolation]:
    """A row's problems with those of its text cells that did not read as their type in
    place of what validation said of the same values (the text is not of the type)."""
    paths = {v.field for v in unread}
    kept = [
        p
        for p in problems
        if p.field not in paths and not any(p.field.startswith(f"{path}.") for path in paths)
    ]
    return [*unread, *kept]


__all__ = ["IngestResult", "Ingestion", "RowIn", "dt"]
