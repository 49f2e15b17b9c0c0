"""The gateway's token buckets on a real Redis, with the leases each replica takes from
them (credit_gateway.adapters.limits)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from credit_gateway.adapters import limits
from credit_gateway.adapters.limits import RateLimiter, lease_size
from support.processes import free_port

# A rate so slow that no whole token comes back while a test runs: every count is exact.
SLOW = 0.01


async def shared_tokens(redis: Redis, who: str) -> float:
    return float(await redis.hget(f"ratelimit:{who}", "tokens"))  # type: ignore[misc]


def test_a_lease_is_its_seconds_of_the_rate_at_most_a_tenth_of_the_burst_at_least_one() -> None:
    assert lease_size(50.0, 100, 0.1) == 5
    assert lease_size(1000.0, 100, 0.1) == 10
    assert lease_size(0.2, 3, 0.1) == 1
    assert lease_size(1000.0, 1000, 0.0) == 1


async def test_two_replicas_never_let_a_client_past_its_bucket(redis: Redis) -> None:
    who = f"client:{uuid.uuid4()}"
    one, two = RateLimiter(redis, lease_seconds=1000), RateLimiter(redis, lease_seconds=1000)
    assert lease_size(SLOW, 100, 1000) == 10
    decisions = []
    for _ in range(80):
        decisions.append(await one.take(who, per_second=SLOW, burst=100))
        decisions.append(await two.take(who, per_second=SLOW, burst=100))
    assert sum(d.allowed for d in decisions) == 100
    refused = [d for d in decisions if not d.allowed]
    assert all(d.retry_after >= 1 and d.remaining == 0 for d in refused)
    assert await shared_tokens(redis, who) < 1


async def test_a_lease_is_taken_from_redis_once_and_spent_locally(redis: Redis) -> None:
    who = f"client:{uuid.uuid4()}"
    limiter = RateLimiter(redis, lease_seconds=1000)
    first = await limiter.take(who, per_second=SLOW, burst=20)
    assert first.allowed and first.remaining == 19
    assert await shared_tokens(redis, who) == pytest.approx(18, abs=0.01)  # a lease of 2
    remaining = [first.remaining]
    for _ in range(24):
        decision = await limiter.take(who, per_second=SLOW, burst=20)
        if decision.allowed:
            remaining.append(decision.remaining)
        else:
            assert decision.headers()["Retry-After"] == str(decision.retry_after)
    assert remaining == list(range(19, -1, -1))  # as if every request had asked Redis


async def test_an_expired_lease_gives_its_tokens_back(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(limits, "_clock", lambda: clock[0])
    who = f"client:{uuid.uuid4()}"
    limiter = RateLimiter(redis, lease_seconds=1000)
    assert (await limiter.take(who, per_second=SLOW, burst=100)).allowed
    assert await shared_tokens(redis, who) == pytest.approx(90, abs=0.01)
    clock[0] += 1000  # the lease (9 tokens left) is over
    again = await limiter.take(who, per_second=SLOW, burst=100)
    assert again.allowed and again.remaining == 98
    assert await shared_tokens(redis, who) == pytest.approx(89, abs=0.01)  # 90 + 9 - 10


async def test_without_leases_every_request_asks_redis(redis: Redis) -> None:
    who = f"ip:{uuid.uuid4()}"
    limiter = RateLimiter(redis, lease_seconds=0)
    for left in (2, 1, 0):
        assert (await limiter.take(who, per_second=SLOW, burst=3)).allowed
        assert await shared_tokens(redis, who) == pytest.approx(left, abs=0.01)
    refused = await limiter.take(who, per_second=SLOW, burst=3)
    assert not refused.allowed and refused.retry_after == 100


async def test_requests_at_once_wait_for_one_lease_instead_of_draining_the_bucket(
    redis: Redis,
) -> None:
    who = f"client:{uuid.uuid4()}"
    limiter = RateLimiter(redis, lease_seconds=1000)
    taken = await asyncio.gather(
        *(limiter.take(who, per_second=SLOW, burst=100) for _ in range(25))
    )
    assert all(d.allowed for d in taken)
    assert await shared_tokens(redis, who) == pytest.approx(70, abs=0.01)  # three leases of 10
    assert sorted(d.remaining for d in taken) == list(range(75, 100))
    small = f"client:{uuid.uuid4()}"
    at_once = await asyncio.gather(
        *(limiter.take(small, per_second=SLOW, burst=20) for _ in range(30))
    )
    assert [d.allowed for d in at_once] == [True] * 20 + [False] * 10


async def test_the_bucket_does_not_refill_into_the_room_of_leased_tokens(redis: Redis) -> None:
    """A plain bucket of 100 lets at most 100 through at once, plus what refills meanwhile;
    tokens a replica holds in a lease must count, or the bucket refills behind them."""
    who = f"client:{uuid.uuid4()}"
    limiter = RateLimiter(redis, lease_seconds=0.5)
    assert lease_size(100.0, 100, 0.5) == 10
    assert (await limiter.take(who, per_second=100.0, burst=100)).allowed  # a lease of 10
    await asyncio.sleep(0.1)  # 10 tokens' refill, into a full bucket but for the lease
    started = time.perf_counter()
    burst = await asyncio.gather(
        *(limiter.take(who, per_second=100.0, burst=100) for _ in range(150))
    )
    refilled = 100.0 * (time.perf_counter() - started)
    assert sum(d.allowed for d in burst) <= 100 + refilled + 1


async def test_with_leases_of_one_token_requests_ask_redis_side_by_side(redis: Redis) -> None:
    who = f"ip:{uuid.uuid4()}"
    limiter = RateLimiter(redis, lease_seconds=0)
    ask_redis, in_flight, most = limiter._script, [0], [0]

    async def counted(**kwargs: Any) -> Any:
        in_flight[0] += 1
        most[0] = max(most[0], in_flight[0])
        try:
            return await ask_redis(**kwargs)
        finally:
            in_flight[0] -= 1

    limiter._script = counted  # type: ignore[assignment]
    taken = await asyncio.gather(*(limiter.take(who, per_second=SLOW, burst=50) for _ in range(20)))
    assert all(d.allowed for d in taken) and most[0] > 1


async def test_a_request_cancelled_while_it_asks_leaves_the_lease_to_the_next(
    redis: Redis,
) -> None:
    who = f"client:{uuid.uuid4()}"
    limiter = RateLimiter(redis, lease_seconds=1000)
    asking = asyncio.create_task(limiter.take(who, per_second=SLOW, burst=100))
    await asyncio.sleep(0)  # it has sent its question to Redis
    asking.cancel()
    for _ in range(100):
        if await redis.exists(f"ratelimit:{who}"):
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    assert await shared_tokens(redis, who) == pytest.approx(90, abs=0.01)
    assert (await limiter.take(who, per_second=SLOW, burst=100)).allowed
    assert await shared_tokens(redis, who) == pytest.approx(90, abs=0.01)  # from the lease


async def test_requests_waiting_for_a_lease_each_get_the_error_of_redis_out_of_reach() -> None:
    away = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    limiter = RateLimiter(away, lease_seconds=1000)
    try:
        failed = await asyncio.gather(
            *(limiter.take("client:x", per_second=SLOW, burst=100) for _ in range(5)),
            return_exceptions=True,
        )
    finally:
        await away.aclose()
    assert all(isinstance(f, RedisConnectionError) for f in failed)
    assert len({id(f) for f in failed}) == 5
