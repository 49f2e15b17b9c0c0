"""Per-client token buckets in Redis, shared by every gateway replica.

A replica does not ask Redis for every request: it takes a lease of a few tokens at once
(about `lease_seconds` worth of the client's rate, at most a tenth of its burst) and spends
them locally. Tokens are always taken from the shared bucket before they are spent, so no
client is ever let through more often than its bucket allows, whatever the number of
replicas. What a lease costs is the other way round: tokens leased to one replica cannot be
spent by another until the lease is over (they are then given back on the replica's next
call for that client). A client spread over many replicas may therefore be refused a few
tokens early, never late.

Within a replica one request at a time asks Redis for a caller's lease; the requests that
come meanwhile wait for it (leases taken side by side would drain the bucket) and share its
refusal or its error. With a lease of one token (small limits, or `lease_seconds` 0) every
request asks Redis, as a bucket without leases would. `RateLimit-Remaining` counts what
the shared bucket held when the lease was taken, less what the lease has spent since.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass

from redis.asyncio import Redis

# Refills `rate` tokens a second up to `burst`, adds back what a replica returns, then
# takes up to `want` whole tokens if at least one is there. Time comes from the Redis
# server, so replicas with skewed clocks share one bucket fairly.
_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local back = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then tokens = burst; ts = now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate + back)
local taken = 0
if tokens >= 1 then taken = math.min(want, math.floor(tokens)); tokens = tokens - taken end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
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
        self._asking: dict[str, asyncio.Future[Decision | Exception | None]] = {}

    async def take(self, who: str, *, per_second: float, burst: int) -> Decision:
        while True:
            lease = self._leases.get(who)
            if lease is not None and time.monotonic() < lease.until and lease.tokens >= 1:
                lease.tokens -= 1
                return _decision(True, lease.shared + lease.tokens, per_second, burst)
            asking = self._asking.get(who)
            if asking is None:
                return await self._ask(who, per_second, burst)
            # Another request of this replica is asking Redis for the same caller: its
            # lease serves this one too (leases taken at once would drain the bucket).
            answer = await asyncio.shield(asking)
            if isinstance(answer, Exception):
                raise answer
            if answer is not None and who not in self._leases:
                return answer  # refused, for this request too

    async def _ask(self, who: str, per_second: float, burst: int) -> Decision:
        asking: asyncio.Future[Decision | Exception | None] = (
            asyncio.get_running_loop().create_future()
        )
        self._asking[who] = asking
        answer: Decision | Exception | None = None
        try:
            now = time.monotonic()
            lease = self._leases.pop(who, None)
            give_back = lease.tokens if lease is not None and now >= lease.until else 0
            want = lease_size(per_second, burst, self.lease_seconds)
            taken_text, left_text = await self._script(
                keys=[f"ratelimit:{who}"], args=[per_second, burst, want, give_back]
            )
            taken, left = int(taken_text), float(left_text)
            if taken < 1:
                answer = _decision(False, left, per_second, burst)
                return answer
            if taken > 1:
                self._keep(who, taken - 1, left, now)
            return _decision(True, left + (taken - 1), per_second, burst)
        except Exception as error:  # Redis out of reach: the waiters fail alike, at once
            answer = error
            raise
        finally:
            # The waiters share a refusal or an error; after a lease (or this request's
            # cancellation) they look again.
            del self._asking[who]
            asking.set_result(answer)

    def _keep(self, who: str, tokens: int, shared: float, now: float) -> None:
        if len(self._leases) >= MAX_LEASES:
            self._leases = {k: v for k, v in self._leases.items() if now < v.until}
            if len(self._leases) >= MAX_LEASES:
                return
        self._leases[who] = _Lease(tokens, shared, now + self.lease_seconds)


def _decision(allowed: bool, tokens: float, per_second: float, burst: int) -> Decision:
    return Decision(
        allowed=allowed,
        limit=burst,
        remaining=int(tokens),
        retry_after=0 if allowed else max(1, math.ceil((1 - tokens) / per_second)),
        reset=math.ceil(max(0.0, burst - tokens) / per_second),
    )
