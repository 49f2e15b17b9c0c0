"""Redis connections: a URL (redis:// or unix://) from the environment."""

from __future__ import annotations

from redis.asyncio import Redis


def make_redis(url: str) -> Redis:
    if not url:
        raise ValueError("no Redis URL: set the service's REDIS_URL (the launcher sets one)")
    return Redis.from_url(url, decode_responses=False, health_check_interval=30)
