"""The late mark (DOMAIN.md): licences and penalties must be published within 7 working
days of the decision; a record submitted later is marked `late`. Working days are those
of the Chinese calendar, make-up workdays (调休) included, the decision's own day not
counted, and the submission's day is its date in China. No I/O: the shipped catalog's
items and `new_record`, as the records service calls it."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest

from credit_common.timeutil import CHINA, china_date
from credit_common.workdays import WorkCalendar
from credit_records.adapters.catalog_store import SHIPPED, item_from_definition
from credit_records.service_layer.checks import Checked, new_record

ITEMS = {d["item_code"]: item_from_definition(d) for d in json.loads(SHIPPED.read_text())["items"]}
FIELDS: dict[str, dict[str, Any]] = {
    "admin_penalty": {"severity": "general", "penalty_kinds": ["fine"]},
    "admin_license": {"license_category": "general", "valid_from": "2026-01-01"},
}
CALENDAR = WorkCalendar()


def submitted_late(item_code: str, decided: dt.date, now: dt.datetime) -> bool:
    """Whether a record decided on `decided` and submitted at `now` is marked late, the
    submission's day taken in China as `Records.submit` takes it."""
    record, note = new_record(
        Checked(ITEMS[item_code], decided, FIELDS[item_code]),
        subject_id=uuid.uuid4(),
        subject_key="91310115MA1K3YJ58Y",
        department="market_regulation",
        source_ref="沪市监罚〔2026〕1号",
        client_id="cl_market",
        now=now,
        today=china_date(now),
        calendar=CALENDAR,
    )
    assert note == ""  # the official calendar covers 2026: no Monday-Friday guess
    return record.late


def china(y: int, m: int, d: int, h: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, minute, tzinfo=CHINA).astimezone(dt.UTC)


ITEM_CODES = pytest.mark.parametrize("item_code", ["admin_penalty", "admin_license"])


@ITEM_CODES
@pytest.mark.parametrize(
    ("decided", "submitted", "late"),
    [
        # Decided Friday 6 March 2026: working days 9-13 and 16-17 March are the 1st-7th.
        (dt.date(2026, 3, 6), china(2026, 3, 17), False),
        (dt.date(2026, 3, 6), china(2026, 3, 18), True),
        # Decided 30 September 2026: 1-7 October are National Day, Saturday 10 October is a
        # make-up workday; 8, 9, 10, 12, 13, 14 and 15 October are the 1st-7th.
        (dt.date(2026, 9, 30), china(2026, 10, 15), False),
        (dt.date(2026, 9, 30), china(2026, 10, 16), True),
    ],
)
def test_a_record_is_late_only_after_the_seventh_working_day_after_its_decision(
    item_code: str, decided: dt.date, submitted: dt.datetime, late: bool
) -> None:
    assert submitted_late(item_code, decided, submitted) is late


@ITEM_CODES
def test_the_seventh_working_day_ends_at_midnight_in_china_not_in_utc(item_code: str) -> None:
    """16:00 UTC on 17 March is already 18 March in China: the 8th working day."""
    decided = dt.date(2026, 3, 6)
    last_moment = china(2026, 3, 17, 23, 59)
    first_late = dt.datetime(2026, 3, 17, 16, 0, tzinfo=dt.UTC)
    assert last_moment.date() == first_late.date() == dt.date(2026, 3, 17)  # both the 17th in UTC
    assert not submitted_late(item_code, decided, last_moment)
    assert submitted_late(item_code, decided, first_late)
