"""The tables of the consumer tests (an outbox, the consumer's processed events, and the
values its handlers apply), and a consumer of them."""

from __future__ import annotations

import sqlalchemy as sa
from redis.asyncio import Redis

from credit_common.consumer import Handler, StreamConsumer
from credit_common.db import Database
from credit_common.outbox import outbox_table, processed_events_table

metadata = sa.MetaData()
outbox = outbox_table(metadata)
processed = processed_events_table(metadata)
applied = sa.Table(
    "applied",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("value", sa.String(40)),
)


def consumer_of(
    db: Database, redis: Redis, stream: str, name: str, handler: Handler, **options: int
) -> StreamConsumer:
    """Group "g"'s consumer `name` of `stream`, with `handler` for test.value."""
    return StreamConsumer(
        db,
        redis,
        processed,
        stream=stream,
        group="g",
        consumer=name,
        handlers={"test.value": handler},
        **options,
    )
