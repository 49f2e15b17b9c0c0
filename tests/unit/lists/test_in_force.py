"""When an entry's measures applied (the days measure feedback may name), and the duration
limits a list type sets."""

from __future__ import annotations

import datetime as dt
import uuid

from credit_common.timeutil import CHINA
from credit_lists.domain.model import Entry, ListType, State, Transition, validity
from credit_lists.service_layer.feedback import _not_in_force


def china(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=CHINA)


def entry(state: State, effective_from: dt.datetime | None, **extra: object) -> Entry:
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "subject_id": uuid.uuid4(),
        "subject_key": "k",
        "list_type": "serious_illegal_dishonest",
        "color": "black",
        "department": "market_regulation",
        "reason": "r",
        "decision_ref": "d",
        "basis_record_ids": [],
        "proposed_by": "c",
        "proposed_at": china(2026, 1, 1, 9),
        "state": state,
        "publicity_until": china(2026, 1, 12),
        "valid_until": china(2029, 1, 12),
        "effective_from": effective_from,
        "open_objections": 0,
        "repairable": True,
        "repair_possible_from": None,
    }
    values.update(extra)
    return Entry(**values)  # type: ignore[arg-type]


NOW = china(2026, 6, 1, 12)


def ended(state: State, at: dt.datetime) -> Entry:
    """Effective from 12 January, then removed or withdrawn by hand at `at`."""
    step = Transition("effective", state, at, "authority", "理由")
    return entry(state, china(2026, 1, 12), history=[step])


def test_an_entry_in_publicity_or_withdrawn_there_never_was_in_force() -> None:
    assert entry(State.PUBLICITY, None, publicity_until=china(2026, 7, 1)).in_force(NOW) is None
    withdrawn = entry(State.WITHDRAWN, None)
    assert withdrawn.in_force(NOW) is None
    assert "never took effect" in _not_in_force(withdrawn, dt.date(2026, 5, 1), NOW)[0].message


def test_an_entry_is_in_force_from_its_effect_to_its_end_by_china_days() -> None:
    # Stored in publicity, but the clock implies it took effect on 12 January.
    implied = entry(State.PUBLICITY, None)
    assert implied.in_force(NOW) == (china(2026, 1, 12), china(2029, 1, 12))
    assert _not_in_force(implied, dt.date(2029, 1, 11), NOW) == []
    assert _not_in_force(implied, dt.date(2029, 1, 12), NOW)[0].field == "applied_on"
    endless = entry(State.EFFECTIVE, china(2026, 1, 12), valid_until=None)
    assert endless.in_force(NOW) == (china(2026, 1, 12), None)
    assert _not_in_force(implied, dt.date(2026, 1, 12), NOW) == []
    assert _not_in_force(implied, dt.date(2026, 1, 11), NOW)[0].field == "applied_on"
    removed_at = china(2026, 3, 5, 16)
    removed = ended(State.REMOVED, removed_at)
    assert removed.in_force(NOW) == (china(2026, 1, 12), removed_at)
    assert _not_in_force(removed, dt.date(2026, 3, 5), NOW) == []
    late = _not_in_force(removed, dt.date(2026, 3, 6), NOW)
    assert late[0].field == "applied_on" and "2026-03-05" in late[0].message
    # Expired at midnight in China: its last day in force is the day before.
    expired = entry(State.EFFECTIVE, china(2026, 1, 12), valid_until=china(2026, 5, 1))
    assert expired.in_force(NOW) == (china(2026, 1, 12), china(2026, 5, 1))
    assert _not_in_force(expired, dt.date(2026, 4, 30), NOW) == []
    assert _not_in_force(expired, dt.date(2026, 5, 1), NOW) != []
    # Withdrawn after it took effect (listed in error): in force until the withdrawal.
    at = china(2026, 2, 1, 10)
    assert ended(State.WITHDRAWN, at).in_force(NOW) == (china(2026, 1, 12), at)


def procurement(**extra: int) -> ListType:
    values = {
        "publicity_days": 10,
        "default_duration_days": 1095,
        "min_days_before_repair": 0,
        "max_duration_days": 1095,
        "min_duration_days": 365,
        **extra,
    }
    return ListType(
        list_type="procurement_bad_record",
        name="政府采购严重违法失信行为记录",
        color="black",
        authority_department="finance",
        repairable=False,
        basis="",
        **values,
    )


def test_a_procurement_listing_lasts_one_to_three_years() -> None:
    start, now = china(2026, 11, 12), china(2026, 11, 1, 15)
    assert validity(procurement(), start, china(2027, 11, 12), now)[1] == []
    assert validity(procurement(), start, china(2027, 11, 11), now)[1] == [
        ("valid_until", "shorter than the type's minimum of 365 days")
    ]
    assert validity(procurement(), start, china(2029, 11, 12), now)[1] == []


def test_a_list_type_keeps_its_durations_in_order() -> None:
    assert procurement().problems() == []
    assert procurement(min_duration_days=1200).problems() == [
        ("min_duration_days", "more than max_duration_days"),
        ("default_duration_days", "less than min_duration_days"),
    ]
    assert procurement(default_duration_days=2000).problems() == [
        ("default_duration_days", "more than max_duration_days")
    ]


def test_an_entry_valid_past_the_last_day_there_is_has_no_last_day_in_force() -> None:
    """An end at or after the last moment a China date can show (a valid_until late in
    9999, or the end of a period that never ends): every day from its effect is in force."""
    for end in (
        dt.datetime.max.replace(tzinfo=dt.UTC),
        dt.datetime(9999, 12, 31, 16, 0, 1, tzinfo=dt.UTC),
    ):
        endless = entry(State.EFFECTIVE, china(2026, 1, 12), valid_until=end)
        assert endless.in_force(NOW) == (china(2026, 1, 12), end)
        assert _not_in_force(endless, dt.date(2026, 5, 1), NOW) == []
        assert _not_in_force(endless, dt.date(2026, 1, 11), NOW)[0].field == "applied_on"
    # Midnight starting 1 January 10000 in China: its last day is the last date there is.
    last = entry(
        State.EFFECTIVE,
        china(2026, 1, 12),
        valid_until=dt.datetime(9999, 12, 31, 16, tzinfo=dt.UTC),
    )
    assert _not_in_force(last, dt.date(9999, 12, 31), NOW) == []
