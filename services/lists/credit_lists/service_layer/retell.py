"""Tells, once, what entries made before events named their basis records stand at.

Entry events name the records an entry is based on and its end; the records service keeps
a "while listed" record (court_dishonest) public until its listing ends. Entries made or
ended before that was so were never told: `tell-listings` sends each entry with basis
records as an `entry.told` event (its state, bases, validity and, if it was removed or
withdrawn, when), through the outbox. Sending it again does no harm: the records service
keeps the latest it was told, and an ended listing stays ended."""

from __future__ import annotations

import uuid

from credit_common.db import Database
from credit_common.outbox import Event, Outbox
from credit_common.timeutil import utcnow
from credit_lists.adapters.repository import EntryRepository
from credit_lists.domain.model import Entry, State
from credit_lists.service_layer.entries import changed

_ENDED_BY_HAND = (State.REMOVED, State.WITHDRAWN)


def told(entry: Entry) -> Event:
    """An entry as it stands, with when it ended if it was removed or withdrawn."""
    now = entry.at(utcnow())
    ending = [h for h in entry.history if h.to_state in _ENDED_BY_HAND]
    last = ending[-1] if ending and now.state in _ENDED_BY_HAND else None
    return changed(
        now,
        now.state,
        now.state,
        last.reason if last else entry.reason,  # why it ended, if it was ended by hand
        kind="entry.told",
        ended_at=last.at if last else None,
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
