"""The background loops of a service that publishes and consumes events."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping, Sequence

import sqlalchemy as sa
from redis.asyncio import Redis

from credit_common.consumer import Handler, StreamConsumer, consumer_name
from credit_common.db import Database
from credit_common.relay import OutboxRelay, stream_name


def event_loops(
    db: Database,
    redis: Redis,
    *,
    outbox: sa.Table,
    processed: sa.Table,
    producer: str,
    group: str,
    consume_from: Sequence[str],
    handlers: Mapping[str, Handler] | None,
    stop: asyncio.Event,
) -> list[Awaitable[None]]:
    """The outbox relay, and one consumer per stream in `consume_from` (none when
    `handlers` is None), named after this host and process."""
    loops: list[Awaitable[None]] = [OutboxRelay(db, redis, outbox, producer).run(stop)]
    if handlers is not None:
        name = consumer_name()
        for source in consume_from:
            consumer = StreamConsumer(
                db,
                redis,
                processed,
                stream=stream_name(source),
                group=group,
                consumer=name,
                handlers=handlers,
            )
            loops.append(consumer.run(stop))
    return loops
