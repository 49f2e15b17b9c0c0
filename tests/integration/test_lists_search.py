"""The lists service's search of entries by state."""

from __future__ import annotations

from test_lists_event_order import court_record, created, hear, keys, lists

from credit_lists.bootstrap import ListsApp
from credit_lists.service_layer import commands

__all__ = ["lists"]  # the fixture


async def test_current_entries_in_a_past_state_are_none_not_every_entry(lists: ListsApp) -> None:
    """`current_only` with a past state (expired, removed, withdrawn) asks for entries
    that are both: none. The states left to look for were none, and no filter at all was
    applied."""
    subject, key = keys()
    await hear(lists, "record.created", created(court_record(subject, key)))
    effective, _ = await lists.entries.search(commands.Search(state="effective"))
    assert [e.state.value for e in effective] == ["effective"]
    for past in ("expired", "removed", "withdrawn"):
        found, more = await lists.entries.search(commands.Search(state=past, current_only=True))
        assert (found, more) == ([], None), past
        found, _ = await lists.entries.search(commands.Search(state=past))
        assert found == [], past
