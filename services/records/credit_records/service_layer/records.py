"""The records use cases: submit, correct, withdraw, and reads at a level and a moment."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from credit.events.v1 import records_pb2 as ev
from credit_common.db import Database
from credit_common.directory import SubjectDirectory
from credit_common.errors import (
    Conflict,
    FieldViolation,
    InvalidArgument,
    InvalidTransition,
    NotFound,
    PermissionDenied,
)
from credit_common.outbox import Event, Outbox
from credit_common.timeutil import china_date, utcnow
from credit_common.workdays import WorkCalendar
from credit_records.adapters.catalog_store import CatalogStore
from credit_records.adapters.repository import SUBJECT_CHUNK_ROWS, RecordRepository
from credit_records.domain.catalog import Level
from credit_records.domain.publicity import window_for
from credit_records.domain.records import (
    RecordView,
    StoredRecord,
    Version,
    canonical_json,
    view,
)
from credit_records.service_layer import commands
from credit_records.service_layer.checks import (
    check_row,
    field_violations,
    new_record,
    read_as_bulk,
    read_as_bulk_or_refuse,
    same_fields,
    sent_again,
)
from credit_records.service_layer.merges import follow_merges

MAX_PAGE = 500


def _unchanged(record: StoredRecord, fields: object, schema_version: int) -> bool:
    """Whether a correction would change nothing: these fields (read as a bulk line's are)
    are the current version's (`same_fields`), under the item's current schema (a new
    schema version may read the same fields otherwise). A withdrawn record is refused as
    before."""
    return (
        record.withdrawn_at is None
        and record.current.schema_version == schema_version
        and isinstance(fields, dict)
        and same_fields(record, fields)
    )


def summary(record: StoredRecord | sa.Row[Any], status: str = "active") -> ev.RecordSummary:
    """What an event tells of a record: from the record, or from a row of the records table
    holding these columns."""
    return ev.RecordSummary(
        record_id=str(record.id),
        subject_id=str(record.subject_id),
        subject_key=record.subject_key,
        item_code=record.item_code,
        department=record.department,
        source_ref=record.source_ref,
        decided_on=record.decided_on.isoformat(),
        version=record.current_version,
        status=status,
    )


@dataclass(frozen=True)
class Submitted:
    view: RecordView
    created: bool
    calendar_note: str


class Records:
    def __init__(
        self,
        db: Database,
        catalog: CatalogStore,
        directory: SubjectDirectory,
        outbox: Outbox,
        calendar: WorkCalendar,
    ) -> None:
        self.db = db
        self.catalog = catalog
        self.directory = directory
        self.outbox = outbox
        self.calendar = calendar
        # Rows (a record's versions and marks) a subject's records are read at a time.
        self.chunk_rows = SUBJECT_CHUNK_ROWS

    async def submit(self, cmd: commands.Submit) -> Submitted:
        """Stores a record; the same source_ref with the same content answers the existing one."""
        now = utcnow()
        today = china_date(now)
        fields, twice = read_as_bulk(cmd.item_code, cmd.fields)
        checked, problems = await check_row(
            self.catalog,
            cmd.caller.department,
            cmd.item_code,
            cmd.source_ref,
            cmd.decided_on,
            fields,
            today,
        )
        problems += twice
        if (
            checked is None
            and problems
            and problems[0].message.endswith(f"is not a source of {cmd.item_code}")
        ):
            raise PermissionDenied(problems[0].message, "department_mismatch")
        subject = (
            (await self.directory.resolve([cmd.subject_code]))[cmd.subject_code]
            if cmd.subject_code
            else None
        )
        unknown = ""
        if subject is None:
            unknown, problem = await self.directory.why_unknown(cmd.subject_code)
            problems.insert(0, problem)
        if problems or checked is None or subject is None:
            reason = (
                unknown
                if subject is None
                else (
                    "unknown_item"
                    if problems and problems[0].field == "item_code"
                    else "validation_failed"
                )
            )
            raise InvalidArgument("the record was not accepted", reason, problems)
        record, note = new_record(
            checked,
            subject_id=subject.subject_id,
            subject_key=subject.key,
            department=cmd.caller.department,
            source_ref=cmd.source_ref.strip(),
            client_id=cmd.caller.client_id,
            now=now,
            today=today,
            calendar=self.calendar,
        )
        try:
            async with self.db.transaction() as conn:
                repo = RecordRepository(conn)
                existing = await repo.by_source_refs(
                    record.department, record.item_code, [record.source_ref]
                )
                if existing:
                    created = False
                else:
                    await repo.insert([record])
                    await follow_merges(conn, [record])
                    await self.outbox.add(
                        conn,
                        Event(
                            "record.created",
                            record.subject_key,
                            ev.RecordsCreated(records=[summary(record)]),
                        ),
                    )
                    created = True
        except sa.exc.IntegrityError:
            async with self.db.read() as conn:  # the same source_ref won a race
                existing = await RecordRepository(conn).by_source_refs(
                    record.department, record.item_code, [record.source_ref]
                )
            created = False
        if not created:
            record_id, stored_hash = existing[record.source_ref]
            if stored_hash != record.content_hash and not await sent_again(
                self.directory, await self._stored(record_id), record
            ):
                raise Conflict(
                    f"source_ref {record.source_ref!r} already names a record with other content",
                    "duplicate_source_ref",
                    metadata={"record_id": str(record_id)},
                )
            return Submitted(await self._view_now(record_id, Level.RESTRICTED), False, note)
        return Submitted(await self._view_now(record.id, Level.RESTRICTED), True, note)

    async def _stored(self, record_id: uuid.UUID) -> StoredRecord | None:
        async with self.db.read() as conn:
            return await RecordRepository(conn).get(record_id)

    async def correct(self, cmd: commands.Correct) -> RecordView:
        """Adds a version with corrected fields; only the source department may."""
        if not cmd.reason.strip():
            raise InvalidArgument(
                "a correction needs a reason",
                "reason_required",
                [FieldViolation("reason", "required")],
            )
        now = utcnow()
        async with self.db.transaction() as conn:
            repo = RecordRepository(conn)
            record = await self._own(repo, cmd.record_id, cmd.caller)
            item = await self.catalog.get(record.item_code)
            fields = read_as_bulk_or_refuse(record.item_code, cmd.fields)
            # Nothing to correct (a correction retried after a timeout): no second version.
            if item is None or not _unchanged(record, fields, item.schema_version):
                await self.apply_correction(
                    repo,
                    record,
                    fields,
                    cmd.caller.client_id,
                    cmd.caller.department,
                    cmd.reason,
                    now,
                )
                await self.outbox.add(
                    conn,
                    Event(
                        "record.corrected",
                        record.subject_key,
                        ev.RecordCorrected(record=summary(record, "corrected"), reason=cmd.reason),
                    ),
                )
        return await self._view_now(cmd.record_id, Level.RESTRICTED)

    async def apply_correction(
        self,
        repo: RecordRepository,
        record: StoredRecord,
        fields: object,
        actor: str,
        department: str,
        reason: str,
        now: dt.datetime,
        *,
        upheld_objection: bool = False,
    ) -> None:
        """Adds the next version, its fields read as a bulk line's already
        (`read_as_bulk_or_refuse`), inside the caller's transaction (also for upheld objections:
        the objections service checked their fields against the schema, not a publicity
        deadline against the law's window, so that is not refused here but held to it)."""
        if record.withdrawn_at is not None:
            raise InvalidTransition("a withdrawn record cannot be corrected")
        item = await self.catalog.get(record.item_code)
        assert item is not None
        if not isinstance(fields, dict):
            raise InvalidArgument(
                "fields must be an object",
                "validation_failed",
                [FieldViolation("fields", "an object")],
            )
        errors = field_violations(
            self.catalog,
            item,
            fields,
            decided_on=None if upheld_objection else record.decided_on,
        )
        if errors:
            raise InvalidArgument(
                "the corrected fields do not match the item's schema",
                "validation_failed",
                errors,
            )
        version = Version(
            record.current_version + 1,
            fields,
            item.schema_version,
            now,
            actor,
            department,
            reason,
            canonical_json(fields),
        )
        window = record.settled(window_for(item, record.decided_on, fields), item, lambda: fields)
        # The content a resubmission is compared with is the record as it now stands: the
        # corrected fields, sent again, are the same content (200); the first ones are not
        # any more (409: the sender's data is behind the record's).
        digest = record.fields_hash(fields)
        await repo.add_version(record.id, version, window, now, content_hash=digest)
        await repo.add_history(
            record.id, "corrected", now, actor, reason, f"version {version.version}"
        )
        record.current_version = version.version
        record.content_hash = digest

    async def withdraw(self, cmd: commands.Withdraw) -> RecordView:
        """Withdraws a record (it stays stored, with who and why)."""
        if not cmd.reason.strip():
            raise InvalidArgument(
                "a withdrawal needs a reason",
                "reason_required",
                [FieldViolation("reason", "required")],
            )
        now = utcnow()
        async with self.db.transaction() as conn:
            repo = RecordRepository(conn)
            record = await self._own(repo, cmd.record_id, cmd.caller)
            await self.apply_withdrawal(repo, record, cmd.caller.client_id, cmd.reason, now)
            await self.outbox.add(
                conn,
                Event(
                    "record.withdrawn",
                    record.subject_key,
                    ev.RecordWithdrawn(record=summary(record, "withdrawn"), reason=cmd.reason),
                ),
            )
        return await self._view_now(cmd.record_id, Level.RESTRICTED)

    async def apply_withdrawal(
        self,
        repo: RecordRepository,
        record: StoredRecord,
        actor: str,
        reason: str,
        now: dt.datetime,
    ) -> None:
        """Withdraws inside the caller's transaction (also for upheld objections)."""
        if record.withdrawn_at is not None:
            raise InvalidTransition("the record is already withdrawn")
        await repo.set_fields(record.id, withdrawn_at=now, updated_at=now)
        await repo.add_history(record.id, "withdrawn", now, actor, reason)

    async def _own(
        self, repo: RecordRepository, record_id: uuid.UUID, caller: commands.Caller
    ) -> StoredRecord:
        record = await repo.get(record_id, for_update=True)
        if record is None:
            raise NotFound("no such record")
        if record.department != caller.department:
            raise PermissionDenied(
                "only the record's source department may change it", "department_mismatch"
            )
        return record

    async def get(self, record_id: uuid.UUID, level: Level) -> RecordView:
        """One record as the level sees it now; a record the level may not see is not found."""
        return await self._view_now(record_id, level)

    async def _view_now(self, record_id: uuid.UUID, level: Level) -> RecordView:
        async with self.db.read() as conn:  # one statement: consistent by itself
            record = await RecordRepository(conn).get(record_id)
        item = await self.catalog.get(record.item_code) if record else None
        seen = view(record, item, level, utcnow()) if record and item else None
        if seen is None:
            raise NotFound("no such record")
        return seen

    async def for_subject(
        self, cmd: commands.ListForSubject
    ) -> tuple[list[RecordView], int | None]:
        """A subject's records as the level saw them at `as_of` (default now)."""
        at = cmd.as_of or utcnow()
        if at > utcnow() + dt.timedelta(minutes=1):
            raise InvalidArgument(
                "as_of is in the future",
                "invalid_argument",
                [FieldViolation("as_of", "a past moment")],
            )
        items = self.catalog.all()
        if cmd.item_code:
            items = [i for i in items if i.item_code == cmd.item_code]
        if cmd.category:
            items = [i for i in items if i.category == cmd.category]
        visible_items = [i.item_code for i in items if i.disclosure <= cmd.level]
        by_code = {i.item_code: i for i in items}
        size = min(max(cmd.page_size or 50, 1), MAX_PAGE)
        needed = cmd.offset + size + 1  # the page, and whether another follows it

        def seen(records: list[StoredRecord]) -> list[RecordView]:
            return [
                v
                for r in records
                if (v := view(r, by_code[r.item_code], cmd.level, at)) is not None
            ]

        async with self.db.read() as conn:  # one statement: consistent by itself
            records, more = await RecordRepository(conn).for_subject(
                cmd.subject_id,
                item_codes=visible_items,
                submitted_before=at,
                rows=self.chunk_rows,
            )
        views = seen(records)
        if more is not None and len(views) < needed:
            # A subject with more records than a chunk: read again from its first one, a
            # chunk at a time in one snapshot (so the chunks agree), up to the page.
            views = []
            async with self.db.snapshot() as conn:
                repo, after = RecordRepository(conn), None
                while True:
                    records, after = await repo.for_subject(
                        cmd.subject_id,
                        item_codes=visible_items,
                        submitted_before=at,
                        after=after,
                        rows=self.chunk_rows,
                    )
                    views += seen(records)
                    if after is None or len(views) >= needed:
                        break
        page = views[cmd.offset : cmd.offset + size]
        return page, (cmd.offset + size if len(views) > cmd.offset + size else None)
