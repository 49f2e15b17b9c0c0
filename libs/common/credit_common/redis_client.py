"""Redis connections: a URL (redis:// or unix://) from the environment."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis


def make_redis(url: str, *, max_connections: int = 64, wait_seconds: float = 5.0) -> Redis:
    """A client whose pool waits (up to `wait_seconds`) for a free connection when all
    `max_connections` are busy; redis-py's default pool fails at once instead, which under
    a burst turned into errors that a short wait avoids. Past the wait: ConnectionError."""
    if not url:
        raise ValueError("no Redis URL: set the service's REDIS_URL (the launcher sets one)")
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=wait_seconds,
        decode_responses=False,
        health_check_interval=30,
    )
    return Redis.from_pool(pool)
