"""Public responses kept briefly in Redis (shared by every gateway replica) and dropped
when the subject they are about changes.

How an answer stays true:
- Every invalidation takes a new number from one counter (`seq`) and writes it as the
  subject's generation. A miss reads the counter *before* asking any backend and stores
  its answer stamped with that number, and only if the subject's generation has not
  passed it meanwhile; a lookup serves an entry only while its stamp is not behind the
  subject's generation. So an answer composed from backend reads that began before a
  change can never be served after the change is known here.
- A `floor` drops everything at once: when a gateway starts following the events, as it
  cannot know what it missed, and when a catalog, list type or measure changes.
- Entries live at most `ttl` and never past the moment their content changes by time alone
  (a publicity window ending); generations outlive the entries they can refuse.

Keys hold hashes of what was asked, never a code or identity number; an entry holds the
subject's id, its audit key and the public-level body (masked). Redis unavailable: the
gateway answers uncached."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from redis.asyncio import Redis

from credit_common.tasks import BackgroundTasks
from credit_gateway.adapters import metrics

log = logging.getLogger(__name__)

PREFIX = "credit:gateway:public"
# The generation of the public listings of list entries (many subjects each): dropped by
# every entry event and every change of a subject (names show in the listings).
LISTINGS = "listings"

# KEYS: entry, seq, floor. ARGV: prefix of generation keys.
# A hit returns {1, "<subject_key>\n<body>"}; a miss {0, <current seq>}.
_LOOKUP = """
local e = redis.call('GET', KEYS[1])
if e then
  local a = string.find(e, '\\n', 1, true)
  local b = string.find(e, '\\n', a + 1, true)
  local stamp = tonumber(string.sub(e, 1, a - 1))
  local gen = tonumber(redis.call('GET', ARGV[1] .. string.sub(e, a + 1, b - 1)) or '0')
  local floor = tonumber(redis.call('GET', KEYS[3]) or '0')
  if stamp >= gen and stamp >= floor then
    return {1, string.sub(e, b + 1)}
  end
end
return {0, redis.call('GET', KEYS[2]) or '0'}
"""

# KEYS: entry, the subject's generation, floor. ARGV: stamp, value, ttl in ms.
_STORE = """
local stamp = tonumber(ARGV[1])
if tonumber(redis.call('GET', KEYS[2]) or '0') > stamp then return 0 end
if tonumber(redis.call('GET', KEYS[3]) or '0') > stamp then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""

# KEYS: the subjects' generations. ARGV: seq, ttl of a generation in ms.
_INVALIDATE = """
local n = redis.call('INCR', ARGV[1])
for _, key in ipairs(KEYS) do
  redis.call('SET', key, n, 'PX', ARGV[2])
end
return n
"""

# KEYS: seq, floor.
_INVALIDATE_ALL = """
local n = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[2], n)
return n
"""


MAX_PENDING_STORES = 256  # per gateway replica


@dataclass(frozen=True)
class Hit:
    subject_key: str
    body: bytes


@dataclass(frozen=True)
class Miss:
    """`stamp` is the counter read before the backends were asked; None: do not store."""

    stamp: int | None


class PublicCache:
    def __init__(self, redis: Redis, ttl_seconds: float, *, prefix: str = PREFIX) -> None:
        self.redis = redis
        self.ttl_ms = int(ttl_seconds * 1000)
        self.prefix = prefix
        self.seq_key = f"{prefix}:seq"
        self.floor_key = f"{prefix}:floor"
        self.generation_prefix = f"{prefix}:gen:"
        # Set by the event listener while it follows the streams: a cache whose changes
        # nobody follows answers nothing.
        self.following = False
        self._lookup = redis.register_script(_LOOKUP)
        self._store = redis.register_script(_STORE)
        self._invalidate = redis.register_script(_INVALIDATE)
        self._invalidate_all = redis.register_script(_INVALIDATE_ALL)
        self._storing = BackgroundTasks()

    def key(self, *parts: str) -> str:
        """The entry key of a question (route, code, query): a hash, no code in the clear."""
        digest = hashlib.blake2b("\x00".join(parts).encode(), digest_size=20).hexdigest()
        return f"{self.prefix}:e:{digest}"

    async def lookup(self, key: str) -> Hit | Miss:
        if not self.following:
            metrics.PUBLIC_CACHE.labels("unavailable").inc()
            return Miss(None)
        try:
            found, value = await self._lookup(
                keys=[key, self.seq_key, self.floor_key], args=[self.generation_prefix]
            )
        except Exception:
            log.warning("public cache: lookup failed; answering uncached", exc_info=True)
            metrics.PUBLIC_CACHE.labels("unavailable").inc()
            return Miss(None)
        if int(found) == 1:
            metrics.PUBLIC_CACHE.labels("hit").inc()
            subject_key, _, body = bytes(value).partition(b"\n")
            return Hit(subject_key.decode(), body)
        metrics.PUBLIC_CACHE.labels("miss").inc()
        return Miss(int(value))

    def store_soon(
        self,
        key: str,
        miss: Miss,
        subject_id: str,
        subject_key: str,
        body: bytes,
        *,
        fresh_until: dt.datetime | None = None,
    ) -> None:
        """`store` without waiting for it: the reader has its answer one Redis round trip
        sooner. (Not as a response's background task: HTTP/1.1 would hold the connection
        until it ended.) A store landing after a change is refused by its stamp as ever.
        With MAX_PENDING_STORES still under way (Redis slow or away) the answer is not kept:
        a cache is never worth a backlog."""
        if len(self._storing) >= MAX_PENDING_STORES:
            metrics.PUBLIC_CACHE.labels("skipped").inc()
            return
        self._storing.start(
            self.store(key, miss, subject_id, subject_key, body, fresh_until=fresh_until)
        )

    async def drain(self, grace: float = 2.0) -> None:
        """Waits up to `grace` s for the stores still under way (before the Redis client
        closes); a store Redis does not answer by then is given up (a cache entry lost)."""
        await self._storing.drain(grace)

    async def store(
        self,
        key: str,
        miss: Miss,
        subject_id: str,
        subject_key: str,
        body: bytes,
        *,
        fresh_until: dt.datetime | None = None,
    ) -> bool:
        """Keeps an answer unless its subject changed since `miss` was taken; returns
        whether it was kept."""
        if miss.stamp is None:
            return False
        ttl_ms = self.ttl_ms
        if fresh_until is not None:
            left = (fresh_until - dt.datetime.now(dt.UTC)).total_seconds()
            ttl_ms = min(ttl_ms, int(left * 1000))
        if ttl_ms <= 0:
            metrics.PUBLIC_CACHE.labels("refused").inc()
            return False
        value = b"%d\n%s\n%s\n%s" % (
            miss.stamp,
            subject_id.encode(),
            subject_key.encode(),
            body,
        )
        try:
            kept = await self._store(
                keys=[key, self.generation_prefix + subject_id, self.floor_key],
                args=[miss.stamp, value, ttl_ms],
            )
        except Exception:
            log.warning("public cache: store failed", exc_info=True)
            return False
        metrics.PUBLIC_CACHE.labels("stored" if int(kept) else "refused").inc()
        return bool(int(kept))

    async def invalidate(self, subject_ids: Iterable[str]) -> int:
        """Drops what is kept about these subjects (by id); returns the new generation."""
        keys = [self.generation_prefix + s for s in sorted(set(subject_ids)) if s]
        if not keys:
            return 0
        # A generation must outlive every entry it may have to refuse: ttl and a margin.
        return int(await self._invalidate(keys=keys, args=[self.seq_key, self.ttl_ms + 1000]))

    async def invalidate_all(self) -> int:
        return int(await self._invalidate_all(keys=[self.seq_key, self.floor_key]))
