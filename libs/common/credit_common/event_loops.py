"""The background loops of a service that publishes and consumes events."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from redis.asyncio import Redis

from credit_common.consumer import Handler, StreamConsumer, consumer_name
from credit_common.db import Database
from credit_common.redis_client import make_redis
from credit_common.relay import OutboxRelay, stream_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Events:
    """A service's events: its outbox, published as `producer`'s stream; and, for one that
    consumes, the streams it reads (`consume_from`, by producer) as its consumer `group`,
    and its table of the events it has applied (`processed`: the dedupe by event id)."""

    outbox: sa.Table
    producer: str
    group: str = ""
    consume_from: Sequence[str] = ()
    processed: sa.Table | None = None


async def replay_parked(
    db: Database, redis_url: str, events: Events, handlers: Mapping[str, Handler]
) -> int:
    """The `replay-parked` command: applies again the events this service's group parked
    on the dead-letter streams of what it reads (`<stream>.dead`: a handler failed ten
    times), once the cause is mended, without a restart. Each applied event leaves the
    dead-letter stream; one that still fails stays, and the log says why. Returns the
    exit status: 0 when none is left, 1 when some still fail, 2 without Redis."""
    if not redis_url:
        log.error("replay-parked needs the service's Redis URL")
        return 2
    redis = make_redis(redis_url)
    left = 0
    try:
        for consumer in _consumers(db, redis, events, handlers):
            applied = await consumer.replay_parked()
            still = await consumer.parked()
            left += still
            log.info(
                "%s: %d parked events applied, %d still parked",
                consumer.dead_letter_stream,
                applied,
                still,
            )
    finally:
        await redis.aclose()
    return 1 if left else 0


def event_loops(
    db: Database,
    redis: Redis,
    events: Events,
    handlers: Mapping[str, Handler] | None,
    stop: asyncio.Event,
) -> list[Awaitable[None]]:
    """The outbox relay, and one consumer per stream in `events.consume_from` (none when
    `handlers` is None), named after this host and process. `stop` is the process's stop
    event, the one given to grpc_server.serve_until_stopped (SIGTERM sets it): on it the
    relay finishes its pass and each consumer its batch in hand, and they return."""
    loops: list[Awaitable[None]] = [
        OutboxRelay(db, redis, events.outbox, events.producer).run(stop)
    ]
    if handlers is not None:
        loops += [consumer.run(stop) for consumer in _consumers(db, redis, events, handlers)]
    return loops


def _consumers(
    db: Database, redis: Redis, events: Events, handlers: Mapping[str, Handler]
) -> list[StreamConsumer]:
    """This group's consumer of each stream in `consume_from`, named after this host and
    process."""
    if events.processed is None or not events.group:
        raise ValueError(f"{events.producer} names no consumer group or table of applied events")
    name = consumer_name()
    return [
        StreamConsumer(
            db,
            redis,
            events.processed,
            stream=stream_name(source),
            group=events.group,
            consumer=name,
            handlers=handlers,
        )
        for source in events.consume_from
    ]
