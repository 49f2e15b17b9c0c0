"""Per-client token buckets in Redis, shared by every gateway replica."""

from __future__ import annotations

import math
from dataclasses import dataclass

from redis.asyncio import Redis

# Refills `rate` tokens a second up to `burst`; takes one if it can. Time comes from the
# Redis server, so replicas with skewed clocks share one bucket fairly.
_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then tokens = burst; ts = now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
if tokens >= 1 then tokens = tokens - 1; allowed = 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(tokens)}
"""


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


class RateLimiter:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._script = redis.register_script(_BUCKET)

    async def take(self, who: str, *, per_second: float, burst: int) -> Decision:
        allowed, left = await self._script(keys=[f"ratelimit:{who}"], args=[per_second, burst])
        tokens = float(left)
        missing = max(0.0, 1 - tokens)
        return Decision(
            allowed=bool(int(allowed)),
            limit=burst,
            remaining=int(tokens),
            retry_after=max(1, math.ceil(missing / per_second)) if not int(allowed) else 0,
            reset=math.ceil((burst - tokens) / per_second),
        )
