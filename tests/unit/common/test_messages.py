"""Timestamps built and read directly agree with protobuf's own FromDatetime and
ToDatetime."""

from __future__ import annotations

import datetime as dt

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from credit.records.v1 import records_pb2 as rec
from credit_common.messages import moment_of, timestamp

MOMENTS = [
    dt.datetime(2026, 11, 27, 19, 45, 1, 123456, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 28, 3, 45, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    dt.datetime(1960, 3, 4, 5, 6, 7, 999999, tzinfo=dt.UTC),  # before 1970
    dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
    dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
    dt.datetime(2026, 1, 1, 12, 0),  # naive: read as UTC, as FromDatetime does
]


@pytest.mark.parametrize("moment", MOMENTS)
def test_a_timestamp_is_the_one_protobuf_would_build(moment: dt.datetime) -> None:
    expected = Timestamp()
    expected.FromDatetime(moment)
    assert timestamp(moment) == expected


def test_no_moment_is_no_timestamp() -> None:
    assert timestamp(None) is None


@pytest.mark.parametrize("moment", MOMENTS)
def test_a_moment_is_the_one_protobuf_would_read(moment: dt.datetime) -> None:
    record = rec.Record()
    record.submitted_at.FromDatetime(moment)
    record.submitted_at.nanos += 999  # cut to microseconds, as ToDatetime does
    assert moment_of(record, "submitted_at") == record.submitted_at.ToDatetime(tzinfo=dt.UTC)
    assert moment_of(record, "updated_at") is None
