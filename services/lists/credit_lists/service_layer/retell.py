"""Tells, once, what entries made before events named their basis records stand at.

Entry events name the records an entry is based on and its end; the records service keeps
a "while listed" record (court_dishonest) public until its listing ends. Entries made or
ended before that was so were never told: `tell-listings` sends each entry with basis
records as an `entry.told` event (its state, bases, validity and, if it was removed or
withdrawn, when), through the outbox. Sending it again does no harm: the records service
keeps the latest it was told, and an ended listing stays ended."""

from __future__ import annotations

import uuid

from credit.events.v1 import lists_pb2 as ev
from credit_common.db import Database
from credit_common.messages import timestamp
from credit_common.outbox import Event, Outbox
from credit_common.timeutil import utcnow
from credit_lists.adapters.repository import EntryRepository
from credit_lists.domain.model import Entry, State

_ENDED_BY_HAND = (State.REMOVED, State.WITHDRAWN)


def told(entry: Entry) -> Event:
    """An entry as it stands, with when it ended if it was removed or withdrawn."""
    now = entry.at(utcnow())
    ended = [h.at for h in entry.history if h.to_state in _ENDED_BY_HAND]
    return Event(
        "entry.told",
        entry.subject_key,
        ev.EntryChanged(
            entry_id=str(entry.id),
            subject_id=str(entry.subject_id),
            subject_key=entry.subject_key,
            list_type=entry.list_type,
            color=entry.color,
            from_state=now.state.value,
            to_state=now.state.value,
            reason=entry.reason,
            department=entry.department,
            basis_record_ids=entry.basis_record_ids,
            valid_until=timestamp(entry.valid_until),
            ended_at=timestamp(ended[-1]) if ended and now.state in _ENDED_BY_HAND else None,
        ),
    )


async def tell_listings(db: Database, outbox: Outbox, *, batch: int = 1000) -> int:
    """Sends an `entry.told` for every entry with basis records; returns how many."""
    sent = 0
    after: uuid.UUID | None = None
    while True:
        async with db.transaction() as conn:
            entries = await EntryRepository(conn).with_bases_after(after, batch)
            if not entries:
                return sent
            await outbox.add(conn, *(told(e) for e in entries))
        sent += len(entries)
        after = entries[-1].id
