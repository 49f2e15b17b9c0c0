"""Per-client token buckets in Redis, shared by every gateway replica.

A replica does not ask Redis for every request: it takes a lease of a few tokens at once
(about `lease_seconds` worth of the client's rate, at most a tenth of its burst) and spends
them locally. Tokens are always taken from the shared bucket before they are spent, so no
client is ever let through more often than its bucket allows, whatever the number of
replicas: the tokens leased out count against the bucket until their lease is over (the
bucket does not refill into their room). What a lease costs is the other way round: tokens
leased to one replica cannot be spent by another until the lease is over (they are then
given back on the replica's next call for that client), and the room of the ones spent
refills only then. A client may therefore be refused up to a lease's worth of tokens
early, never let through late.

Within a replica one request at a time asks Redis for a caller's lease; the requests that
come meanwhile wait for it (leases taken side by side would drain the bucket) and share its
refusal or its error. With a lease of one token (small limits, or `lease_seconds` 0) every
request asks Redis, as a bucket without leases would. `RateLimit-Remaining` counts what
the shared bucket held when the lease was taken, less what the lease has spent since.
"""

from __future__ import annotations

import asyncio
import copy
import math
import time
from dataclasses import dataclass

from redis.asyncio import Redis

# Refills `rate` tokens a second, adds back what a replica returns, then takes up to `want`
# whole tokens if at least one is there. Tokens leased out (all but the one spent at once)
# are `held` until the lease is over, and the bucket refills only up to `burst` less them,
# so what the bucket holds and what replicas hold never exceed the burst together. Time
# comes from the Redis server, so replicas with skewed clocks share one bucket fairly.
_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local back = tonumber(ARGV[4])
local lease = tonumber(ARGV[5])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'held', 'until')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
local held = tonumber(state[3]) or 0
local held_until = tonumber(state[4]) or 0
if tokens == nil then tokens = burst; ts = now end
if now >= held_until then held = 0 end
held = math.max(0, held - back)
tokens = math.min(burst - held, tokens + math.max(0, now - ts) * rate + back)
local taken = 0
if tokens >= 1 then taken = math.min(want, math.floor(tokens)); tokens = tokens - taken end
if taken > 1 then held = held + taken - 1; held_until = math.max(held_until, now + lease) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now),
  'held', tostring(held), 'until', tostring(held_until))
redis.call('PEXPIRE', KEYS[1], math.ceil(math.max(burst / rate, lease) * 1000) + 1000)
return {taken, tostring(tokens)}
"""

# Past this many callers holding leases, the expired leases are dropped (their tokens
# are lost to their callers until the buckets refill: callers are refused early, never
# let through); anonymous callers are one per address, so the leases must not grow
# without bound.
MAX_LEASES = 10_000


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int
    reset: int

    def headers(self) -> dict[str, str]:
        values = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
        }
        if not self.allowed:
            values["Retry-After"] = str(self.retry_after)
        return values


@dataclass
class _Lease:
    tokens: int  # taken from the shared bucket, not yet spent
    shared: float  # left in the shared bucket when the lease was taken
    until: float  # time.monotonic() past which the lease is given back


def lease_size(per_second: float, burst: int, lease_seconds: float) -> int:
    """How many tokens a replica takes at once: `lease_seconds` of the rate, at most a
    tenth of the burst, at least one."""
    return max(1, min(math.ceil(per_second * lease_seconds), burst // 10))


class RateLimiter:
    def __init__(self, redis: Redis, *, lease_seconds: float = 0.0) -> None:
        self.redis = redis
        self.lease_seconds = lease_seconds
        self._script = redis.register_script(_BUCKET)
        self._leases: dict[str, _Lease] = {}
        self._asking: dict[str, asyncio.Task[Decision]] = {}

    async def take(self, who: str, *, per_second: float, burst: int) -> Decision:
        want = lease_size(per_second, burst, self.lease_seconds)
        while True:
            lease = self._leases.get(who)
            if lease is not None and _clock() < lease.until and lease.tokens >= 1:
                lease.tokens -= 1
                return _decision(True, lease.shared + lease.tokens, per_second, burst)
            if want == 1:  # no lease to share: each request asks for its own token
                return await self._from_redis(who, per_second, burst, 1)
            asking = self._asking.get(who)
            if asking is None:
                asking = asyncio.create_task(self._from_redis(who, per_second, burst, want))
                asking.add_done_callback(_retrieved)
                self._asking[who] = asking
                # Shielded: a request cancelled meanwhile does not lose the lease.
                return await asyncio.shield(asking)
            # Another request of this replica is asking Redis for the same caller: its
            # lease serves this one too (leases taken side by side would drain the bucket).
            try:
                decision = await asyncio.shield(asking)
            except Exception as error:
                raise _again(error) from None
            if not decision.allowed:
                return decision  # refused, for this request too

    async def _from_redis(self, who: str, per_second: float, burst: int, want: int) -> Decision:
        """Up to `want` tokens from the shared bucket (an expired lease's given back): one
        spent at once, the rest kept as this replica's lease."""
        try:
            now = _clock()
            lease = self._leases.pop(who, None)
            give_back = lease.tokens if lease is not None and now >= lease.until else 0
            taken_text, left_text = await self._script(
                keys=[f"ratelimit:{who}"],
                args=[per_second, burst, want, give_back, self.lease_seconds],
            )
            taken, left = int(taken_text), float(left_text)
            if taken < 1:
                return _decision(False, left, per_second, burst)
            if taken > 1:
                self._keep(who, taken - 1, left, now)
            return _decision(True, left + (taken - 1), per_second, burst)
        finally:
            if self._asking.get(who) is asyncio.current_task():
                del self._asking[who]

    def _keep(self, who: str, tokens: int, shared: float, now: float) -> None:
        if len(self._leases) >= MAX_LEASES:
            self._leases = {k: v for k, v in self._leases.items() if now < v.until}
            if len(self._leases) >= MAX_LEASES:
                return
        self._leases[who] = _Lease(tokens, shared, now + self.lease_seconds)


_clock = time.monotonic  # the leases' clock (tests move it)


def _retrieved(task: asyncio.Task[Decision]) -> None:
    """Marks a lease's error as seen when the request that asked is gone (cancelled)."""
    if not task.cancelled():
        task.exception()


def _again(error: Exception) -> Exception:
    """The asking request's error for a waiting one: a copy, so that each raise has its
    own traceback rather than every waiter's frames piled on one object."""
    try:
        return copy.copy(error)
    except Exception:
        return error


def _decision(allowed: bool, tokens: float, per_second: float, burst: int) -> Decision:
    return Decision(
        allowed=allowed,
        limit=burst,
        remaining=int(tokens),
        retry_after=0 if allowed else max(1, math.ceil((1 - tokens) / per_second)),
        reset=math.ceil(max(0.0, burst - tokens) / per_second),
    )
