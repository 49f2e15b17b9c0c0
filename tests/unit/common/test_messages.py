"""Timestamps built and read directly agree with protobuf's own FromDatetime and
ToDatetime."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from credit.records.v1 import records_pb2 as rec
from credit_common.errors import InvalidArgument
from credit_common.messages import moment_of, offset_of, timestamp, token_for
from credit_objections.entrypoints.convert import page_start

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


@pytest.mark.parametrize(
    "token",
    ["zz", base64.urlsafe_b64encode(b"o:-1").decode(), base64.urlsafe_b64encode(b"o:x").decode()],
)
def test_a_page_token_no_service_issued_is_refused_as_invalid_page_token(token: str) -> None:
    """One stable reason for a bad page token, whichever service reads it (the gateway's
    audit log says the same): a client can tell it from any other invalid argument."""
    for read in (offset_of, page_start):
        with pytest.raises(InvalidArgument) as refused:
            read(token)
        assert refused.value.reason == "invalid_page_token"
        assert [v.field for v in refused.value.violations] == ["page_token"]
    assert offset_of(token_for(40)) == 40
