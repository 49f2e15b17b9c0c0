"""The subject directory's cache: answers kept for their ttl, let go of a call at a time.

The registry here is a stand-in answering from a dict (what is tested is the cache in
front of it; the directory against the real registry runs in the e2e tests)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from credit.registry.v1 import registry_pb2 as pb
from credit_common import directory
from credit_common.directory import SubjectDirectory

KNOWN = {f"CODE{i}": str(uuid.uuid4()) for i in range(20)}


class CountingDirectory(SubjectDirectory):
    """Answers ResolveCodes from KNOWN and counts the codes asked for."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("127.0.0.1:1", 1.0, **kwargs)
        self.asked: list[str] = []

    async def call(self, rpc: Any, request: Any, *, idempotent: bool) -> Any:
        self.asked += request.codes
        reply = pb.ResolveCodesResponse()
        for code in request.codes:
            if code in KNOWN:
                subject = pb.Subject(subject_id=KNOWN[code], subject_key=code.lower())
                reply.results.add(requested_code=code, found=True, subject=subject)
            else:
                reply.results.add(requested_code=code, found=False)
        return reply


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(directory, "_clock", lambda: now[0])
    return now


async def resolve(d: CountingDirectory, codes: Sequence[str]) -> dict[str, Any]:
    d.asked.clear()
    return await d.resolve(codes)


async def test_answers_are_kept_for_their_ttl_then_asked_again(clock: list[float]) -> None:
    d = CountingDirectory(ttl_seconds=5.0)
    first = await resolve(d, ["CODE1", "CODE2", "NOBODY"])
    assert first["CODE1"] is not None and first["CODE1"].subject_id == uuid.UUID(KNOWN["CODE1"])
    assert first["NOBODY"] is None
    clock[0] += 4.9
    again = await resolve(d, ["CODE1", "NOBODY", "CODE3"])
    assert d.asked == ["CODE3"] and again["CODE1"] == first["CODE1"] and again["NOBODY"] is None
    clock[0] += 0.2  # CODE1 and NOBODY are 5.1 s old, CODE3 0.2 s
    await resolve(d, ["CODE1", "NOBODY", "CODE3"])
    assert sorted(d.asked) == ["CODE1", "NOBODY"]


async def test_expired_answers_are_let_go_of_at_the_next_call(clock: list[float]) -> None:
    d = CountingDirectory(ttl_seconds=5.0)
    await resolve(d, [f"CODE{i}" for i in range(10)])
    clock[0] += 3
    await resolve(d, [f"CODE{i}" for i in range(10, 15)])
    assert len(d._cache) == 15
    clock[0] += 2.5  # the first ten expired, the next five not
    await resolve(d, ["CODE10"])
    assert set(d._cache) == {f"CODE{i}" for i in range(10, 15)}
    clock[0] += 10
    await resolve(d, ["CODE0"])  # the rest expired; the code asked for is kept anew
    assert list(d._cache) == ["CODE0"]


async def test_past_max_entries_the_oldest_answers_go_first(clock: list[float]) -> None:
    d = CountingDirectory(ttl_seconds=60.0, max_entries=8)
    oldest = {f"CODE{i}" for i in range(5)}
    await resolve(d, sorted(oldest))
    clock[0] += 1
    await resolve(d, ["CODE5", "CODE6", "CODE7", "CODE0"])  # CODE0 answered from the cache
    assert sorted(d.asked) == ["CODE5", "CODE6", "CODE7"] and len(d._cache) == 8
    clock[0] += 1
    await resolve(d, ["CODE8", "CODE9"])
    assert len(d._cache) == 8
    assert {"CODE5", "CODE6", "CODE7", "CODE8", "CODE9"} <= d._cache.keys()
    assert len(oldest & d._cache.keys()) == 3  # two of the first call's five went


async def test_an_answer_asked_again_after_it_expired_moves_to_the_back(
    clock: list[float],
) -> None:
    """Entries stay in the order they expire in, so the front is always the oldest."""
    d = CountingDirectory(ttl_seconds=5.0, max_entries=3)
    await resolve(d, ["CODE1"])
    clock[0] += 1
    await resolve(d, ["CODE2"])
    clock[0] += 1
    await resolve(d, ["CODE3"])
    clock[0] += 3.5  # CODE1 expired (5.5 s), CODE2 (4.5 s) and CODE3 (3.5 s) not
    await resolve(d, ["CODE1"])
    assert list(d._cache) == ["CODE2", "CODE3", "CODE1"]
    clock[0] += 1  # CODE2 expires
    await resolve(d, ["CODE4"])
    assert list(d._cache) == ["CODE3", "CODE1", "CODE4"]


class SlowDirectory(CountingDirectory):
    """Each ResolveCodes call waits until the test lets it go (by the order of the calls)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gates: list[asyncio.Event] = []

    async def call(self, rpc: Any, request: Any, *, idempotent: bool) -> Any:
        gate = asyncio.Event()
        self.gates.append(gate)
        await gate.wait()
        return await super().call(rpc, request, idempotent=idempotent)


async def test_answers_stay_in_expiry_order_when_calls_end_out_of_order(
    clock: list[float],
) -> None:
    """A call asked first and answered last: its answers go behind those of the calls
    answered before it, CODE1 (which one of those answered too) moved there, each with the
    time it came; so the front is always the first to expire."""
    d = SlowDirectory(ttl_seconds=5.0)
    first = asyncio.create_task(d.resolve(["CODE1", "CODE2"]))  # at 1000
    await asyncio.sleep(0.01)
    clock[0] += 1
    second = asyncio.create_task(d.resolve(["CODE1"]))
    await asyncio.sleep(0.01)
    d.gates[1].set()
    await second  # CODE1 until 1006
    clock[0] += 0.5
    third = asyncio.create_task(d.resolve(["CODE3"]))
    await asyncio.sleep(0.01)
    d.gates[2].set()
    await third  # CODE3 until 1006.5
    clock[0] += 0.5
    d.gates[0].set()
    await first  # CODE1 and CODE2 until 1007
    assert next(iter(d._cache)) == "CODE3" and set(d._cache) == {"CODE1", "CODE2", "CODE3"}
    expiries = [expires for expires, _ in d._cache.values()]
    assert expiries == sorted(expiries) == [1006.5, 1007.0, 1007.0]
    clock[0] = 1006.7  # CODE3 expired, CODE1 and CODE2 not
    await d.resolve(["CODE2"])
    assert len(d.gates) == 3  # answered from the cache
    assert set(d._cache) == {"CODE1", "CODE2"}
