"""What the objections service does when a target vanishes or a subject is merged."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncConnection

from credit.events.v1 import envelope_pb2, lists_pb2, records_pb2, subject_pb2
from credit_common.timeutil import UTC
from credit_objections.adapters.repository import (
    ObjectionRepository,
    RepairRepository,
    lock_subjects,
    lock_target,
    mark_vanished,
    note_merge,
    survivor_of,
)
from credit_objections.domain.cases import Subject, TargetRef
from credit_objections.service_layer.objections import Objections
from credit_objections.service_layer.repairs import Repairs

Handler = Callable[[AsyncConnection, envelope_pb2.Envelope], Awaitable[None]]
# Entry events after which the entry is no longer listed.
ENTRY_GONE = ("entry.withdrawn", "entry.removed", "entry.expired")


class ObjectionConsumers:
    """Event handlers; each runs inside the consumer's transaction (exactly once per event)."""

    def __init__(self, objections: Objections, repairs: Repairs) -> None:
        self.objections = objections
        self.repairs = repairs

    def handlers(self) -> dict[str, Handler]:
        return {
            "record.withdrawn": self.on_record_withdrawn,
            "record.expired": self.on_record_expired,
            **dict.fromkeys(ENTRY_GONE, self.on_entry_gone),
            "subject.merged": self.on_subject_merged,
        }

    async def on_record_withdrawn(
        self, conn: AsyncConnection, envelope: envelope_pb2.Envelope
    ) -> None:
        """Open objections and repair applications on the record end: it is withdrawn."""
        withdrawn = records_pb2.RecordWithdrawn()
        envelope.payload.Unpack(withdrawn)
        target = TargetRef("record", withdrawn.record.record_id)
        await self._close(conn, envelope, target, f"the record was withdrawn: {withdrawn.reason}")

    async def on_record_expired(
        self, conn: AsyncConnection, envelope: envelope_pb2.Envelope
    ) -> None:
        """Open objections and repair applications filed on the record by the moment it was
        told expired end: its retention is over, and it is shown at no level but
        restricted. The record is not noted gone, as a withdrawn one is, and a case filed
        after that moment stays open: a later correction or listing may have kept the
        record longer (this event heard late, after a retry), and a filing asks the records
        service whether the record has expired."""
        expired = records_pb2.RecordExpired()
        envelope.payload.Unpack(expired)
        target = TargetRef("record", expired.record.record_id)
        reason = f"the record expired: kept until {expired.retention_until}"
        await self._close(conn, envelope, target, reason, gone=False)

    async def on_entry_gone(self, conn: AsyncConnection, envelope: envelope_pb2.Envelope) -> None:
        """Open objections and repair applications on the entry end: it is no longer listed."""
        changed = lists_pb2.EntryChanged()
        envelope.payload.Unpack(changed)
        target = TargetRef("list_entry", changed.entry_id)
        state = changed.to_state or envelope.type.removeprefix("entry.")
        await self._close(conn, envelope, target, f"the list entry was {state}: {changed.reason}")

    async def _close(
        self,
        conn: AsyncConnection,
        envelope: envelope_pb2.Envelope,
        target: TargetRef,
        reason: str,
        *,
        gone: bool = True,
    ) -> None:
        at = envelope.occurred_at.ToDatetime(tzinfo=UTC)
        # Noted first, under the target's lock: a filing in flight either committed before
        # (and is closed here) or sees the note and is refused.
        await lock_target(conn, target)
        if gone:
            await mark_vanished(conn, target, at, reason)
        filed_by = None if gone else at
        await self.objections.close_on(conn, target, reason[:2000], at, filed_by=filed_by)
        await self.repairs.close_on(conn, target, reason[:2000], at, filed_by=filed_by)

    async def on_subject_merged(
        self, conn: AsyncConnection, envelope: envelope_pb2.Envelope
    ) -> None:
        """The duplicate's objections and applications follow the survivor."""
        merged = subject_pb2.SubjectMerged()
        envelope.payload.Unpack(merged)
        if not merged.survivor_id:
            return
        duplicate = uuid.UUID(merged.subject_id)
        named = Subject(uuid.UUID(merged.survivor_id), merged.survivor_code, False)
        # Under both subjects' locks: a filing in flight resolved to the duplicate commits
        # first (and is moved here) or sees the merge; a merge of the survivor heard
        # before this one (its chain) is followed to where it now leads.
        await lock_subjects(conn, duplicate, named.id)
        survivor = await survivor_of(conn, named)
        await note_merge(conn, duplicate, survivor, envelope.occurred_at.ToDatetime(tzinfo=UTC))
        await ObjectionRepository(conn).move_subject(duplicate, survivor)
        await RepairRepository(conn).move_subject(duplicate, survivor)
