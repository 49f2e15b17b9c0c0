"""What the lists service does when it hears of records, objections, repairs and merges."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from credit.events.v1 import envelope_pb2, objections_pb2, records_pb2, subject_pb2
from credit.events.v1 import lists_pb2 as ev
from credit_common.errors import DomainError
from credit_common.merges import Survivor, record_merge
from credit_common.outbox import Event
from credit_common.timeutil import UTC, china_day_start, utcnow
from credit_lists.adapters import tables as t
from credit_lists.adapters.repository import (
    EntryRepository,
    hear_of_records,
    lock_subject,
    survivor_of,
)
from credit_lists.domain.model import (
    CURRENT,
    Entry,
    State,
    days_after,
    merge_note,
    recounted_end,
    takes_effect,
    validity,
)
from credit_lists.service_layer.entries import BasisWithdrawn, Entries, changed, new_entry

log = logging.getLogger(__name__)
Handler = Callable[[AsyncConnection, envelope_pb2.Envelope], Awaitable[None]]
RULE_ACTOR = "listing-rule"


class ListConsumers:
    """Event handlers; each runs inside the consumer's transaction (exactly once per event)."""

    def __init__(self, entries: Entries) -> None:
        self.entries = entries

    def handlers(self) -> dict[str, Handler]:
        return {
            "record.created": self.on_record_created,
            "record.withdrawn": self.on_record_withdrawn,
            "record.corrected": self.on_record_corrected,
            "objection.filed": self.on_objection_filed,
            "objection.closed": self.on_objection_closed,
            "repair.decided": self.on_repair_decided,
            "subject.merged": self.on_subject_merged,
        }

    async def on_record_created(
        self, conn: AsyncConnection, envelope: envelope_pb2.Envelope
    ) -> None:
        """Listing rules: a record of a listed item puts its subject on the list, unless
        the record has been withdrawn already (its withdrawal was heard first), and under
        the subject's survivor if the subject has been merged (store_new)."""
        created = records_pb2.RecordsCreated()
        envelope.payload.Unpack(created)
        rules = {r["item_code"]: r for r in self.entries.definitions.listing_rules}
        now = envelope.occurred_at.ToDatetime(tzinfo=UTC)
        listed = [r for r in created.records if r.item_code in rules]
        # Subject by subject (store_new locks each entry's subject until the end of the
        # transaction): two batches naming the same subjects take them in the same order.
        for record in sorted(listed, key=lambda r: (r.subject_id, r.record_id)):
            rule = rules[record.item_code]
            list_type = await self.entries.definitions.list_type(rule["list_type"])
            if list_type is None:
                log.error("listing rule names unknown list type %s", rule["list_type"])
                continue
            if await self._listed_by_rule(conn, record.record_id, list_type.list_type):
                log.info(
                    "record %s was listed on %s by its rule already: heard again, nobody listed",
                    record.record_id,
                    list_type.list_type,
                )
                continue
            # Listed from the decision the record holds (a court's listing is in force from
            # its decision, however late the record arrives, and its term counts from the
            # next day); a type with publicity gives the subject its window from now.
            listed_from = now
            decided = _day(record.decided_on)
            if list_type.publicity_days == 0 and decided is not None:
                listed_from = min(china_day_start(decided), now)
                valid_until = (
                    days_after(decided, list_type.default_duration_days)
                    if list_type.default_duration_days
                    else None
                )
            else:
                valid_until, _ = validity(
                    list_type, takes_effect(list_type, listed_from), None, now
                )
            entry = new_entry(
                list_type,
                subject_id=uuid.UUID(record.subject_id),
                subject_key=record.subject_key,
                reason=str(rule.get("reason", record.item_code)).strip(),
                decision_ref=record.source_ref,
                basis_record_ids=[record.record_id],
                proposed_by=RULE_ACTOR,
                now=now,
                valid_until=valid_until,
                listed_from=listed_from,
            )
            try:
                await self.entries.store_new(
                    conn, entry, RULE_ACTOR, f"listed by rule from record {record.record_id}"
                )
            except BasisWithdrawn:
                log.info(
                    "record %s was withdrawn before its creation was heard: nobody listed",
                    record.record_id,
                )

    async def _listed_by_rule(self, conn: AsyncConnection, record_id: str, list_type: str) -> bool:
        """Whether the listing rule has put an entry of `list_type` on the record already,
        whatever has become of it since: a creation heard again under another event id (the
        consumer's dedupe is by event id) lists nobody a second time. The record's
        `heard_records` row is written first, so two replicas hearing it at once take turns
        and the second sees the first's entry (see hear_of_records)."""
        await hear_of_records(conn, [record_id])
        found = await conn.scalar(
            sa.select(t.entries.c.id)
            .join(t.entry_basis, t.entry_basis.c.entry_id == t.entries.c.id)
            .where(
                t.entry_basis.c.record_id == record_id,
                t.entries.c.list_type == list_type,
                t.entries.c.proposed_by == RULE_ACTOR,
            )
            .limit(1)
        )
        return found is not None

    async def _entries_based_on(self, conn: AsyncConnection, record_id: str) -> list[Entry]:
        ids = list(
            await conn.scalars(
                sa.select(t.entry_basis.c.entry_id).where(t.entry_basis.c.record_id == record_id)
            )
        )
        repo = EntryRepository(conn)
        found = [await repo.get(i, for_update=True, details=False) for i in ids]
        return [e for e in found if e is not None]

    async def on_record_withdrawn(
        self, conn: AsyncConnection, envelope: envelope_pb2.Envelope
    ) -> None:
        """An entry whose basis record is withdrawn is withdrawn too; one stored later on
        the record is not stored (the withdrawal is remembered first: hear_of_records)."""
        withdrawn = records_pb2.RecordWithdrawn()
        envelope.payload.Unpack(withdrawn)
        now = envelope.occurred_at.ToDatetime(tzinfo=UTC)
        await hear_of_records(conn, [withdrawn.record.record_id], withdrawn_at=now)
        repo = EntryRepository(conn)
        for entry in await self._entries_based_on(conn, withdrawn.record.record_id):
            if entry.at(now).state in CURRENT:
                await self.entries.apply_removal(
                    repo,
                    entry,
                    now,
                    "records",
                    f"basis record withdrawn: {withdrawn.reason}",
                    withdraw=True,
                )

    async def on_record_corrected(
        self, conn: AsyncConnection, envelope: envelope_pb2.Envelope
    ) -> None:
        corrected = records_pb2.RecordCorrected()
        envelope.payload.Unpack(corrected)
        now = envelope.occurred_at.ToDatetime(tzinfo=UTC)
        repo = EntryRepository(conn)
        entries = await self._entries_based_on(conn, corrected.record.record_id)
        for entry in entries:
            await repo.add_note(
                entry.id,
                entry.state,
                now,
                "records",
                f"basis record corrected (version {corrected.record.version}): {corrected.reason}",
            )
        if entries:
            await self._marked(
                conn,
                envelope,
                entries[0].subject_key,
                sorted({str(e.subject_id) for e in entries}),
                [e.id for e in entries],
                "basis_corrected",
            )

    async def on_objection_filed(
        self, conn: AsyncConnection, envelope: envelope_pb2.Envelope
    ) -> None:
        """An objection holds an entry in publicity until it is decided."""
        filed = objections_pb2.ObjectionFiled()
        envelope.payload.Unpack(filed)
        if filed.target.kind != "list_entry":
            return
        entry_id = uuid.UUID(filed.target.id)
        opened = envelope.occurred_at.ToDatetime(tzinfo=UTC)
        heard = _heard(entry_id, filed.objection_id)
        if (await conn.execute(sa.select(_HEARD.closed_at).where(heard))).first() is not None:
            # Its closing came first (this event failed once, the next one did not): the
            # objection is over, so it holds nothing; the row learns its opening.
            await conn.execute(sa.update(t.entry_objections).where(heard).values(opened_at=opened))
            return
        repo = EntryRepository(conn)
        entry = await repo.get(entry_id, for_update=True, details=False)
        if entry is None:
            return
        await self._as_at_filing(repo, entry, filed.objection_id, opened)
        await self._count_objection(conn, envelope, entry_id, +1)
        await conn.execute(
            sa.insert(t.entry_objections).values(
                entry_id=entry_id, objection_id=filed.objection_id, opened_at=opened, closed_at=None
            )
        )

    async def _as_at_filing(
        self, repo: EntryRepository, entry: Entry, objection_id: str, opened: dt.datetime
    ) -> None:
        """An objection holds an entry only if it was in publicity when the objection was
        filed. The event may be heard late (the stream lags, the objections service was
        away), so the stored state is first put right for the moment of filing: an entry whose
        publicity ended before the filing takes effect first, as the clock would have made it
        (the objection then holds nothing); one the clock moved on after the filing goes
        back to publicity, where the objection holds it."""
        now = utcnow()
        if entry.state == State.PUBLICITY and entry.publicity_until <= opened:
            # Unless objections filed in time hold it, it took effect before this filing.
            await self.entries.catch_up(repo, entry, now)
        elif (
            entry.state == State.EFFECTIVE
            and entry.effective_from == entry.publicity_until  # by the clock, not held over
            and opened < entry.publicity_until
        ):
            reason = (
                f"objection {objection_id} was filed during publicity "
                f"({opened.isoformat(timespec='seconds')}) and heard after it ended: "
                "held in publicity until the objection is decided"
            )
            held = replace(entry, state=State.PUBLICITY, effective_from=None)
            await self._move(repo, entry, held, now, reason, kind="entry.held")

    async def _move(
        self,
        repo: EntryRepository,
        entry: Entry,
        moved: Entry,
        now: dt.datetime,
        reason: str,
        *,
        kind: str = "",
    ) -> None:
        """Moves the entry to `moved` (its state and dates), if it is still as stored, with
        its history step (by the lists service) and its event."""
        if await repo.move(
            entry.id,
            entry.state,
            moved.state,
            now,
            "lists",
            reason,
            effective_from=moved.effective_from,
            valid_until=moved.valid_until,
            repair_possible_from=moved.repair_possible_from,
        ):
            await repo.complete([moved], history=False)
            await self.entries.outbox.add(
                repo.conn, changed(moved, entry.state, moved.state, reason, kind=kind)
            )

    async def on_objection_closed(
        self, conn: AsyncConnection, envelope: envelope_pb2.Envelope
    ) -> None:
        closed = objections_pb2.ObjectionClosed()
        envelope.payload.Unpack(closed)
        if closed.target.kind != "list_entry":
            return
        entry_id = uuid.UUID(closed.target.id)
        now = envelope.occurred_at.ToDatetime(tzinfo=UTC)
        repo = EntryRepository(conn)
        if closed.outcome == "upheld":
            # Withdrawn while the objection still counts: an entry it held in publicity
            # goes from publicity to withdrawn, never effective in between.
            entry = await repo.get(entry_id, for_update=True, details=False)
            if entry is not None and entry.at(now).state in CURRENT:
                await self.entries.apply_removal(
                    repo,
                    entry,
                    now,
                    closed.decided_by or "objections",
                    f"objection {closed.objection_id} upheld: {closed.reason}",
                    withdraw=True,
                )
            await self._close_objection(conn, envelope, entry_id, closed.objection_id, now)
            return
        await self._close_objection(conn, envelope, entry_id, closed.objection_id, now)
        await self._hold_over(repo, entry_id, closed, now)

    async def _hold_over(
        self,
        repo: EntryRepository,
        entry_id: uuid.UUID,
        closed: objections_pb2.ObjectionClosed,
        now: dt.datetime,
    ) -> None:
        """An entry its objections held past its publicity takes effect now, not back at the
        end of its publicity (its measures did not apply meanwhile), and its validity and
        repair wait as long as it was held: the listing lasts as long as its type says."""
        entry = await repo.get(entry_id, for_update=True, details=False)
        if (
            entry is None
            or entry.state != State.PUBLICITY
            or entry.publicity_until > now
            or await self._holding(repo.conn, entry)
        ):
            return
        # Held whole days: its periods count again from the day after it takes effect, as
        # they counted from its publicity's end (whole years as calendar years), and still
        # end at midnight.
        moved = replace(
            entry,
            state=State.EFFECTIVE,
            effective_from=now,
            valid_until=recounted_end(entry.valid_until, entry.publicity_until, now),
            repair_possible_from=recounted_end(
                entry.repair_possible_from, entry.publicity_until, now
            ),
        )
        reason = f"held by objection {closed.objection_id} until it was {closed.outcome}"
        await self._move(repo, entry, moved, now, reason)

    async def _holding(self, conn: AsyncConnection, entry: Entry) -> int:
        """How many open objections hold the entry in publicity: those filed before its
        publicity ended (one filed later is counted, so the entry shows it is under
        objection, but holds nothing), and any counted before objections were kept."""
        rows = await conn.execute(
            sa.select(_HEARD.opened_at).where(
                _HEARD.entry_id == entry.id, _HEARD.closed_at.is_(None)
            )
        )
        opened = [r.opened_at for r in rows]
        unkept = max(entry.open_objections - len(opened), 0)
        return unkept + sum(1 for at in opened if at < entry.publicity_until)

    async def on_repair_decided(
        self, conn: AsyncConnection, envelope: envelope_pb2.Envelope
    ) -> None:
        """An approved repair removes the entry as repaired; one in publicity (an objection
        filed in its publicity holds it there) is withdrawn, publicity's only way out
        but taking effect, rather than left to take effect after its repair."""
        decided = objections_pb2.RepairDecided()
        envelope.payload.Unpack(decided)
        if decided.target.kind != "list_entry" or not decided.approved:
            return
        now = envelope.occurred_at.ToDatetime(tzinfo=UTC)
        repo = EntryRepository(conn)
        entry = await repo.get(uuid.UUID(decided.target.id), for_update=True, details=False)
        if entry is None:
            return
        try:
            await self.entries.apply_removal(
                repo,
                entry,
                now,
                "objections",
                f"repaired (repair {decided.repair_id}): {decided.reason}",
                withdraw=entry.at(now).state == State.PUBLICITY,
            )
        except DomainError as error:
            log.warning(
                "repair %s could not remove entry %s: %s", decided.repair_id, entry.id, error
            )

    async def on_subject_merged(
        self, conn: AsyncConnection, envelope: envelope_pb2.Envelope
    ) -> None:
        """The duplicate's entries follow the survivor, and so do entries stored for the
        duplicate later (store_new looks the merge up). A survivor merged since into another
        (B into C heard before A into B) is followed: the entries go to the subject the
        survivor now stands for.

        The duplicate and the subjects on the way to the survivor are locked (lock_subject)
        before anything is read or moved: an entry being stored for the duplicate is moved
        once stored, or sees the merge; a merge of the survivor itself waits for this one
        (and then takes the entries moved here with the survivor's) or is followed. The
        duplicate's row is written first (SQLite: the first write takes the database's
        write lock, and nothing commits between the reads and the writes after it)."""
        merged = subject_pb2.SubjectMerged()
        envelope.payload.Unpack(merged)
        if not merged.survivor_id or merged.survivor_id == merged.subject_id:
            return
        now = envelope.occurred_at.ToDatetime(tzinfo=UTC)
        duplicate = uuid.UUID(merged.subject_id)
        named = Survivor(uuid.UUID(merged.survivor_id), merged.survivor_code)
        await lock_subject(conn, duplicate)
        await record_merge(conn, t.merged_subjects, duplicate, named, now)
        # A loop (the survivor merged, through others, into the duplicate) raises: the
        # registry never merges so, and the event is parked rather than applied.
        since = await survivor_of(conn, named.subject_id)
        survivor = since or named
        if since is not None:
            await record_merge(
                conn, t.merged_subjects, duplicate, since, now, through=named.subject_id
            )
        repo = EntryRepository(conn)
        moved = (
            await conn.execute(
                sa.update(t.entries)
                .where(t.entries.c.subject_id == duplicate)
                .values(
                    subject_id=survivor.subject_id,
                    subject_key=survivor.subject_key,
                    updated_at=now,
                )
                .returning(t.entries.c.id, t.entries.c.state)
            )
        ).all()
        note = merge_note(
            merged.merged_code,
            merged.survivor_code,
            since=since.subject_key if since is not None else "",
        )
        for row in moved:
            await repo.add_note(
                row.id, State(row.state), now, "registry", f"{note}: {merged.reason}"
            )
        self.entries.directory.forget(merged.merged_code)
        if moved:
            await self._marked(
                conn,
                envelope,
                survivor.subject_key,
                list(
                    dict.fromkeys([merged.subject_id, merged.survivor_id, str(survivor.subject_id)])
                ),
                [row.id for row in moved],
                "moved",
            )

    async def _close_objection(
        self,
        conn: AsyncConnection,
        cause: envelope_pb2.Envelope,
        entry_id: uuid.UUID,
        objection_id: str,
        now: dt.datetime,
    ) -> None:
        """Closes the objection's row and uncounts it; one not heard of is kept closed."""
        heard = _heard(entry_id, objection_id)
        close = (
            sa.update(t.entry_objections)
            .where(heard, _HEARD.closed_at.is_(None))
            .values(closed_at=now)
            .returning(_HEARD.entry_id)
        )
        cleared = (await conn.execute(close)).first()
        if cleared is None:
            seen = (await conn.execute(sa.select(_HEARD.closed_at).where(heard))).first()
            if seen is not None and seen.closed_at is not None:
                return  # closed already
            if seen is not None:
                # Its filing committed while the closing looked (PostgreSQL's UPDATE does
                # not wait for a row not yet committed): closed now, by a statement that
                # sees it.
                cleared = (await conn.execute(close)).first()
        if cleared is not None:
            await self._count_objection(conn, cause, entry_id, -1)
            return
        counted = sa.select(t.entries.c.open_objections).where(t.entries.c.id == entry_id)
        if conn.dialect.name == "postgresql":
            counted = counted.with_for_update()  # objections of the entry, one at a time
        open_count = (await conn.execute(counted)).scalar()
        if open_count is None:
            return  # no such entry
        # Not heard of: closed before its filing arrived, or filed before rows were kept.
        # Kept closed, so that a late filing does not hold the entry in publicity under an
        # objection that is over.
        await conn.execute(
            sa.insert(t.entry_objections).values(
                entry_id=entry_id, objection_id=objection_id, opened_at=now, closed_at=now
            )
        )
        with_rows = (
            sa.select(sa.func.count())
            .select_from(t.entry_objections)
            .where(_HEARD.entry_id == entry_id, _HEARD.closed_at.is_(None))
        )
        if open_count > (await conn.execute(with_rows)).scalar_one():
            # The count holds objections with no row, filed before rows were kept: this is
            # taken to be one of them, and uncounted as a closing always was.
            await self._count_objection(conn, cause, entry_id, -1)

    async def _count_objection(
        self, conn: AsyncConnection, cause: envelope_pb2.Envelope, entry_id: uuid.UUID, step: int
    ) -> bool:
        """Counts an objection opened (+1) or closed (-1) on the entry, and says so;
        returns whether it counted (not when there is no such entry, or none to uncount)."""
        query = sa.update(t.entries).where(t.entries.c.id == entry_id)
        if step < 0:
            query = query.where(t.entries.c.open_objections > 0)
        owner = (
            await conn.execute(
                query.values(open_objections=t.entries.c.open_objections + step).returning(
                    t.entries.c.subject_id, t.entries.c.subject_key
                )
            )
        ).first()
        if owner is None:
            return False
        mark = "objection_opened" if step > 0 else "objection_closed"
        await self._marked(
            conn, cause, owner.subject_key, [str(owner.subject_id)], [entry_id], mark
        )
        return True

    async def _marked(
        self,
        conn: AsyncConnection,
        cause: envelope_pb2.Envelope,
        subject_key: str,
        subject_ids: list[str],
        entry_ids: list[uuid.UUID],
        mark: str,
    ) -> None:
        """Tells, in the same transaction, that entries changed in what they show."""
        await self.entries.outbox.add(
            conn,
            Event(
                "entry.marked",
                subject_key,
                ev.EntriesMarked(
                    subject_ids=subject_ids,
                    entry_ids=[str(i) for i in entry_ids],
                    mark=mark,
                    cause_event_id=cause.event_id,
                ),
            ),
        )


_HEARD = t.entry_objections.c


def _day(text: str) -> dt.date | None:
    """A record's decision date (the records service sends YYYY-MM-DD), None if unreadable."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        log.error("a record event with an unreadable decision date %r", text)
        return None


def _heard(entry_id: uuid.UUID, objection_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(_HEARD.entry_id == entry_id, _HEARD.objection_id == objection_id)
