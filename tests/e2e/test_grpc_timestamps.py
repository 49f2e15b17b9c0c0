"""Timestamps in requests over gRPC: the wire carries any seconds and nanos, a datetime
does not; one out of range is the caller's mistake, named, never INTERNAL."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from credit.lists.v1 import lists_pb2, lists_pb2_grpc
from credit.records.v1 import records_pb2, records_pb2_grpc
from credit_common.grpc_errors import from_rpc_error
from support.processes import ServiceProcess

# What a Timestamp may hold: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
FIRST_SECOND = -62_135_596_800
LAST_SECOND = 253_402_300_799
OUT_OF_RANGE = [
    pytest.param(Timestamp(seconds=LAST_SECOND + 1), id="after_9999"),
    pytest.param(Timestamp(seconds=2**62), id="far_after_9999"),
    pytest.param(Timestamp(seconds=FIRST_SECOND - 1), id="before_year_1"),
    pytest.param(Timestamp(seconds=0, nanos=-1), id="negative_nanos"),
    pytest.param(Timestamp(seconds=0, nanos=1_000_000_000), id="nanos_past_a_second"),
]
MARKET = lists_pb2.Caller(client_id="cl_market", department="market_regulation")


async def assert_refused_naming(call: Awaitable[object], field: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call
    remote = from_rpc_error(refused.value)
    assert remote.code == grpc.StatusCode.INVALID_ARGUMENT, remote.message
    assert [v.field for v in remote.violations] == [field]


@pytest.mark.parametrize("valid_until", OUT_OF_RANGE)
async def test_an_entry_valid_until_a_moment_no_datetime_holds_is_refused_naming_it(
    lists_process: ServiceProcess, valid_until: Timestamp
) -> None:
    """ToDatetime raised `ValueError: Timestamp is not valid`: INTERNAL."""
    proposal = lists_pb2.ProposeEntryRequest(
        caller=MARKET,
        subject_code="91310115MA1H3W2P4C",
        list_type="serious_illegal_dishonest",
        reason="严重违法",
        decision_ref="决定书1号",
        valid_until=valid_until,
    )
    async with grpc.aio.insecure_channel(lists_process.address) as channel:
        stub = lists_pb2_grpc.ListsServiceStub(channel)
        await assert_refused_naming(stub.ProposeEntry(proposal, timeout=10), "valid_until")
        listed = await stub.ListEntries(lists_pb2.ListEntriesRequest(), timeout=10)
        assert not listed.entries


@pytest.mark.parametrize("as_of", OUT_OF_RANGE)
async def test_records_as_of_a_moment_no_datetime_holds_are_refused_naming_it(
    records_process: ServiceProcess, as_of: Timestamp
) -> None:
    request = records_pb2.ListSubjectRecordsRequest(subject_id=str(uuid.uuid4()), as_of=as_of)
    async with grpc.aio.insecure_channel(records_process.address) as channel:
        stub = records_pb2_grpc.RecordsServiceStub(channel)
        await assert_refused_naming(stub.ListSubjectRecords(request, timeout=10), "as_of")
