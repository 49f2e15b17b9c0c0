"""A request's Timestamp read as a datetime: the wire carries any seconds and nanos."""

from __future__ import annotations

import datetime as dt

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from credit.lists.v1 import lists_pb2
from credit_common.errors import InvalidArgument
from credit_common.messages import checked_moment_of


def proposal(valid_until: Timestamp | None) -> lists_pb2.ProposeEntryRequest:
    return lists_pb2.ProposeEntryRequest(valid_until=valid_until)


def test_the_first_and_last_moments_a_timestamp_holds_are_read_as_protobuf_reads_them() -> None:
    for value in (
        Timestamp(seconds=-62_135_596_800),
        Timestamp(seconds=253_402_300_799, nanos=999_999_999),
        Timestamp(seconds=1_700_000_000, nanos=123_456_789),
    ):
        assert checked_moment_of(proposal(value), "valid_until") == value.ToDatetime(dt.UTC)


def test_an_unset_timestamp_is_none() -> None:
    assert checked_moment_of(proposal(None), "valid_until") is None


@pytest.mark.parametrize(
    ("seconds", "nanos"),
    [(253_402_300_800, 0), (-62_135_596_801, 0), (2**63 - 1, 0), (0, -1), (0, 1_000_000_000)],
)
def test_a_timestamp_no_datetime_holds_is_refused_naming_the_field(
    seconds: int, nanos: int
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        checked_moment_of(proposal(Timestamp(seconds=seconds, nanos=nanos)), "valid_until")
    assert [v.field for v in refused.value.violations] == ["valid_until"]
