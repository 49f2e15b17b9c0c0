"""What the records service does when it hears of merges, objections and repairs."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable

import sqlalchemy as sa
from google.protobuf import json_format
from sqlalchemy.ext.asyncio import AsyncConnection

from credit.events.v1 import envelope_pb2, lists_pb2, objections_pb2, subject_pb2
from credit.events.v1 import records_pb2 as ev
from credit_common.errors import InvalidArgument
from credit_common.merges import Survivor, record_merge
from credit_common.messages import moment_of
from credit_common.outbox import Event
from credit_common.timeutil import UTC, utcnow
from credit_records.adapters import tables as t
from credit_records.adapters.merges import lock_subjects, survivors_of
from credit_records.adapters.repository import RecordRepository, kept_until
from credit_records.service_layer.checks import read_as_bulk_or_refuse
from credit_records.service_layer.merges import MERGED, MERGED_BY, merge_detail
from credit_records.service_layer.records import Records, summary

log = logging.getLogger(__name__)

Handler = Callable[[AsyncConnection, envelope_pb2.Envelope], Awaitable[None]]


class RecordConsumers:
    """Event handlers; each runs inside the consumer's transaction (exactly once per event)."""

    def __init__(self, records: Records) -> None:
        self.records = records

    def handlers(self) -> dict[str, Handler]:
        return {
            "subject.merged": self.on_subject_merged,
            "objection.filed": self.on_objection_filed,
            "objection.closed": self.on_objection_closed,
            "repair.decided": self.on_repair_decided,
            **dict.fromkeys(_ENTRY_EVENTS, self.on_entry_changed),
        }

    async def on_subject_merged(
        self, conn: AsyncConnection, envelope: envelope_pb2.Envelope
    ) -> None:
        """The duplicate's records follow the survivor, each with its content hash made
        anew under the survivor: a row sent again for the duplicate's code (which now
        resolves to the survivor) is then the same content, not a conflict. The merge is
        written down, so records stored for the duplicate later follow it too
        (follow_merges), and a survivor merged since into another (B into C heard before
        A into B) is followed: the records go to the subject it now stands for.

        The duplicate is locked before anything is read or moved: a record being stored
        for it is moved once stored, or sees the merge; the survivor's own merge is
        followed or waits (survivors_of locks the subjects on the way), and then takes the
        records moved here with the survivor's. The duplicate's merge is written first
        (SQLite: the first write takes the database's write lock). Heard again, it moves
        nothing: no record is left under the duplicate."""
        merged = subject_pb2.SubjectMerged()
        envelope.payload.Unpack(merged)
        if not merged.survivor_id or merged.survivor_id == merged.subject_id:
            return
        now = utcnow()
        at = envelope.occurred_at.ToDatetime(tzinfo=UTC)
        duplicate = uuid.UUID(merged.subject_id)
        named = Survivor(uuid.UUID(merged.survivor_id), merged.survivor_code)
        await lock_subjects(conn, [duplicate], shared=False)
        await record_merge(conn, t.merged_subjects, duplicate, named, at)
        # A loop (the survivor merged, through others, into the duplicate) raises: the
        # registry never merges so, and the event is parked rather than applied.
        since = (await survivors_of(conn, [named.subject_id])).get(named.subject_id)
        survivor = since or named
        if since is not None:
            await record_merge(
                conn, t.merged_subjects, duplicate, since, at, through=named.subject_id
            )
        ids = list(
            await conn.scalars(
                sa.update(t.records)
                .where(t.records.c.subject_id == duplicate)
                .values(
                    subject_id=survivor.subject_id,
                    subject_key=survivor.subject_key,
                    updated_at=now,
                )
                .returning(t.records.c.id)
            )
        )
        repo = RecordRepository(conn)
        await repo.rehash(ids)
        detail = merge_detail(duplicate, survivor.subject_id, named.subject_id)
        await repo.add_histories([(i, MERGED, now, MERGED_BY, merged.reason, detail) for i in ids])
        self.records.directory.forget(merged.merged_code)
        if ids:
            await self._marked(
                conn,
                envelope,
                survivor.subject_key,
                list(
                    dict.fromkeys([merged.subject_id, merged.survivor_id, str(survivor.subject_id)])
                ),
                ids,
                "moved",
            )

    async def on_objection_filed(
        self, conn: AsyncConnection, envelope: envelope_pb2.Envelope
    ) -> None:
        filed = objections_pb2.ObjectionFiled()
        envelope.payload.Unpack(filed)
        if filed.target.kind != "record":
            return
        record_id = uuid.UUID(filed.target.id)
        opened = envelope.occurred_at.ToDatetime(tzinfo=UTC)
        mark = _mark(record_id, filed.objection_id)
        if (await conn.execute(sa.select(_MARKS.closed_at).where(mark))).first() is not None:
            # Its closing came first (this event failed once, the next one did not): the
            # objection is over, so the record is not marked; the mark learns its opening.
            await conn.execute(sa.update(t.objection_marks).where(mark).values(opened_at=opened))
            return
        if not await self._count_objection(conn, envelope, record_id, +1):
            return  # no such record
        await conn.execute(
            sa.insert(t.objection_marks).values(
                record_id=record_id,
                objection_id=filed.objection_id,
                opened_at=opened,
                closed_at=None,
            )
        )

    async def on_objection_closed(
        self, conn: AsyncConnection, envelope: envelope_pb2.Envelope
    ) -> None:
        """Clears the mark; an upheld objection corrects or withdraws the record."""
        closed = objections_pb2.ObjectionClosed()
        envelope.payload.Unpack(closed)
        if closed.target.kind != "record":
            return
        record_id = uuid.UUID(closed.target.id)
        now = envelope.occurred_at.ToDatetime(tzinfo=UTC)
        mark = _mark(record_id, closed.objection_id)
        close = (
            sa.update(t.objection_marks)
            .where(mark, _MARKS.closed_at.is_(None))
            .values(closed_at=now)
            .returning(_MARKS.record_id)
        )
        cleared = (await conn.execute(close)).first()
        seen = None
        if cleared is None:
            seen = (await conn.execute(sa.select(_MARKS.closed_at).where(mark))).first()
            if seen is not None and seen.closed_at is None:
                # Its filing committed while the closing looked (PostgreSQL's UPDATE does
                # not wait for a row not yet committed): closed now, by a statement that
                # sees it.
                cleared = (await conn.execute(close)).first()
        if cleared is not None:
            await self._count_objection(conn, envelope, record_id, -1)
        elif seen is None:
            # Closed before its filing arrived: kept as closed, so that the filing, when it
            # comes, does not mark the record under an objection that is over.
            exists = sa.select(t.records.c.id).where(t.records.c.id == record_id)
            if (await conn.execute(exists)).first() is not None:
                await conn.execute(
                    sa.insert(t.objection_marks).values(
                        record_id=record_id,
                        objection_id=closed.objection_id,
                        opened_at=now,
                        closed_at=now,
                    )
                )
        if closed.outcome != "upheld":
            return
        repo = RecordRepository(conn)
        record = await repo.get(record_id, for_update=True)
        if record is None or record.withdrawn_at is not None:
            return
        actor = closed.decided_by or "objections"
        reason = f"objection {closed.objection_id} upheld: {closed.reason}"
        if closed.HasField("corrected_fields") and closed.corrected_fields.fields:
            fields = json_format.MessageToDict(closed.corrected_fields)
            current = record.versions[-1]
            merged_fields = {**current.fields, **fields}
            # Stamped with the decision, as the mark's end is, unless the version it is laid
            # over came after the decision (a department's correction heard first): then
            # when it is laid over, or that correction would be in no as-of answer, and its
            # fields shown as of moments before they were written.
            at = now if now >= current.recorded_at else utcnow()
            try:
                async with conn.begin_nested():
                    await self.records.apply_correction(
                        repo,
                        record,
                        read_as_bulk_or_refuse(record.item_code, merged_fields),
                        actor,
                        record.department,
                        reason,
                        at,
                        upheld_objection=True,
                    )
            except InvalidArgument as refused:
                # Checked by the objections service against the item's schema of the day
                # of verification: a schema published since may refuse them. Refused for
                # good, so not retried: the mark is cleared, the record stays as it is,
                # and its history and the log say what its department has to correct.
                problems = "; ".join(f"{v.field}: {v.message}" for v in refused.violations)
                log.error(
                    "record %s: objection %s was upheld, but its corrected fields do not fit "
                    "the item's schema now (%s): the department has to correct the record",
                    record_id,
                    closed.objection_id,
                    problems or refused,
                )
                await repo.add_history(
                    record_id,
                    "correction_refused",
                    now,
                    actor,
                    f"{reason}; its corrected fields do not fit the item's schema now: "
                    f"{problems or refused}",
                    "corrected fields not applied",
                )
                return
            event = Event(
                "record.corrected",
                record.subject_key,
                ev.RecordCorrected(record=summary(record, "corrected"), reason=reason),
            )
        else:
            await self.records.apply_withdrawal(repo, record, actor, reason, now)
            event = Event(
                "record.withdrawn",
                record.subject_key,
                ev.RecordWithdrawn(record=summary(record, "withdrawn"), reason=reason),
            )
        await self.records.outbox.add(conn, event)

    async def on_repair_decided(
        self, conn: AsyncConnection, envelope: envelope_pb2.Envelope
    ) -> None:
        """An approved repair takes the record off the public level (marked repaired above it)."""
        decided = objections_pb2.RepairDecided()
        envelope.payload.Unpack(decided)
        if decided.target.kind != "record" or not decided.approved:
            return
        record_id = uuid.UUID(decided.target.id)
        now = envelope.occurred_at.ToDatetime(tzinfo=UTC)
        updated = await conn.execute(
            sa.update(t.records)
            .where(t.records.c.id == record_id, t.records.c.repaired_at.is_(None))
            .values(repaired_at=now, updated_at=now)
            .returning(t.records.c.subject_id, t.records.c.subject_key)
        )
        owner = updated.first()
        if owner is not None:
            await self._marked(
                conn,
                envelope,
                owner.subject_key,
                [str(owner.subject_id)],
                [record_id],
                "repaired",
            )
            await RecordRepository(conn).add_history(
                record_id,
                "repaired",
                now,
                "objections",
                decided.reason,
                f"repair {decided.repair_id}",
            )

    async def on_entry_changed(
        self, conn: AsyncConnection, envelope: envelope_pb2.Envelope
    ) -> None:
        """A "while listed" record (court_dishonest) is public while the entries it is the
        basis of are current: each entry's end is kept as it is told (its validity; the
        moment it was removed, withdrawn or expired), and the record stops being public at
        the latest of them."""
        entry = lists_pb2.EntryChanged()
        envelope.payload.Unpack(entry)
        ended = entry.to_state in _ENDED
        ends_at = moment_of(entry, "valid_until")
        if ended:  # when it ended: as told (entry.told), or the event's own moment
            at = moment_of(entry, "ended_at") or envelope.occurred_at.ToDatetime(tzinfo=UTC)
            ends_at = at if ends_at is None else min(ends_at, at)
        for text in entry.basis_record_ids:
            try:
                record_id = uuid.UUID(text)
            except ValueError:
                continue  # the lists service checked its basis against this service
            await self._listing_changed(conn, envelope, record_id, entry, ends_at, ended)

    async def _listing_changed(
        self,
        conn: AsyncConnection,
        cause: envelope_pb2.Envelope,
        record_id: uuid.UUID,
        entry: lists_pb2.EntryChanged,
        ends_at: dt.datetime | None,
        ended: bool,
    ) -> None:
        r = t.records.c
        record = (
            await conn.execute(
                sa.select(r.item_code, r.subject_id, r.subject_key, r.unlisted_at)
                .where(r.id == record_id)
                .with_for_update()
            )
        ).first()
        if record is None:
            return
        item = await self.records.catalog.get(record.item_code)
        if item is None or item.publicity.kind != "while_active":
            return
        told = cause.occurred_at.ToDatetime(tzinfo=UTC)
        listing = _listing(record_id, entry.entry_id)
        known = (
            await conn.execute(sa.select(_LISTINGS.ended, _LISTINGS.told_at).where(listing))
        ).first()
        values = {"ends_at": ends_at, "ended": ended, "told_at": told}
        if known is None:
            await conn.execute(
                sa.insert(t.record_listings).values(
                    record_id=record_id, entry_id=entry.entry_id, **values
                )
            )
        elif known.ended or (not ended and told < known.told_at):
            return  # told already of its end, or of something later: this event is older
        else:
            await conn.execute(sa.update(t.record_listings).where(listing).values(**values))
        ends = list(
            await conn.scalars(sa.select(_LISTINGS.ends_at).where(_LISTINGS.record_id == record_id))
        )
        unlisted_at = None if None in ends else max(ends)
        if unlisted_at == record.unlisted_at:
            return
        now = utcnow()
        repo = RecordRepository(conn)
        # Its retention runs from its listings' end, now known, changed or unknown again.
        stored = await repo.get(record_id)
        assert stored is not None  # locked above
        stored.unlisted_at = unlisted_at
        kept = stored.window_of(stored.current, item).retention_until
        await conn.execute(
            sa.update(t.records)
            .where(r.id == record_id)
            .values(unlisted_at=unlisted_at, updated_at=now, **kept_until(kept, now))
        )
        until = "no end" if unlisted_at is None else unlisted_at.isoformat()
        await repo.add_history(
            record_id,
            "listing_ended" if ended else "listed",
            now,
            "lists",
            entry.reason,
            f"entry {entry.entry_id} {entry.to_state}; public until {until}"[:200],
        )
        await self._marked(
            conn, cause, record.subject_key, [str(record.subject_id)], [record_id], "listing"
        )

    async def _count_objection(
        self, conn: AsyncConnection, cause: envelope_pb2.Envelope, record_id: uuid.UUID, step: int
    ) -> bool:
        """Counts an objection opened (+1) or closed (-1) on the record, and says so;
        returns whether the record exists."""
        owner = (
            await conn.execute(
                sa.update(t.records)
                .where(t.records.c.id == record_id)
                .values(open_objections=t.records.c.open_objections + step)
                .returning(t.records.c.subject_id, t.records.c.subject_key)
            )
        ).first()
        if owner is None:
            return False
        mark = "objection_opened" if step > 0 else "objection_closed"
        await self._marked(
            conn, cause, owner.subject_key, [str(owner.subject_id)], [record_id], mark
        )
        return True

    async def _marked(
        self,
        conn: AsyncConnection,
        cause: envelope_pb2.Envelope,
        subject_key: str,
        subject_ids: list[str],
        record_ids: list[uuid.UUID],
        mark: str,
    ) -> None:
        """Tells, in the same transaction, that records changed in what they show."""
        await self.records.outbox.add(
            conn,
            Event(
                "record.marked",
                subject_key,
                ev.RecordsMarked(
                    subject_ids=subject_ids,
                    record_ids=[str(i) for i in record_ids],
                    mark=mark,
                    cause_event_id=cause.event_id,
                ),
            ),
        )


_MARKS = t.objection_marks.c
_LISTINGS = t.record_listings.c
_ENTRY_EVENTS = (
    "entry.proposed",
    "entry.effective",
    "entry.expired",
    "entry.removed",
    "entry.withdrawn",
    "entry.told",
)
_ENDED = frozenset({"expired", "removed", "withdrawn"})


def _listing(record_id: uuid.UUID, entry_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(_LISTINGS.record_id == record_id, _LISTINGS.entry_id == entry_id)


def _mark(record_id: uuid.UUID, objection_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(_MARKS.record_id == record_id, _MARKS.objection_id == objection_id)
