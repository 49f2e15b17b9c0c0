"""The relay trims from a stream what every consumer group has read, never what a group
has not read, short of the stream's hard cap; a group that loses events to the cap is
named in an error."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from google.protobuf import wrappers_pb2
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncConnection

from credit.events.v1 import envelope_pb2
from credit_common.consumer import StreamConsumer
from credit_common.db import Database
from credit_common.outbox import Event, Outbox, outbox_table, processed_events_table
from credit_common.relay import OutboxRelay, stream_name

metadata = sa.MetaData()
outbox = outbox_table(metadata)
processed = processed_events_table(metadata)
applied = sa.Table(
    "applied",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("grp", sa.String(20)),
    sa.Column("value", sa.String(40)),
)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    async with database.transaction() as conn:
        await conn.run_sync(metadata.create_all)
    yield database
    await database.dispose()


@pytest.fixture
async def producer(redis: Redis) -> AsyncIterator[str]:
    name = f"trim-{uuid.uuid4().hex[:8]}"
    yield name
    await redis.delete(stream_name(name))


async def publish(db: Database, relay: OutboxRelay, start: int, how_many: int) -> None:
    async with db.transaction() as conn:
        await Outbox(outbox, relay.producer).add(
            conn,
            *[
                Event("test.value", "S", wrappers_pb2.StringValue(value=str(i)))
                for i in range(start, start + how_many)
            ],
        )
    while await relay.publish_once():
        pass


def consumer(db: Database, redis: Redis, producer: str, group: str) -> StreamConsumer:
    async def handler(conn: AsyncConnection, envelope: envelope_pb2.Envelope) -> None:
        value = wrappers_pb2.StringValue()
        envelope.payload.Unpack(value)
        await conn.execute(sa.insert(applied).values(grp=group, value=value.value))

    return StreamConsumer(
        db,
        redis,
        processed,
        stream=stream_name(producer),
        group=group,
        consumer=f"{group}-1",
        handlers={"test.value": handler},
        batch_size=100,
    )


async def applied_by(db: Database, group: str) -> list[int]:
    async with db.read() as conn:
        values = await conn.scalars(sa.select(applied.c.value).where(applied.c.grp == group))
        return sorted(int(v) for v in values)


async def test_what_every_group_has_read_is_trimmed_and_nothing_a_group_has_not(
    db: Database, redis: Redis, producer: str
) -> None:
    stream = stream_name(producer)
    relay = OutboxRelay(db, redis, outbox, producer, maxlen=100_000, trim_every=0, keep_seconds=0)
    fast, slow = consumer(db, redis, producer, "fast"), consumer(db, redis, producer, "slow")
    await fast.ensure_group()
    await slow.ensure_group()
    await publish(db, relay, 0, 1000)
    while await fast.consume_once(block_ms=10):
        pass
    for _ in range(3):
        await slow.consume_once(block_ms=10)
    assert await applied_by(db, "slow") == list(range(300))
    await publish(db, relay, 1000, 1)
    # All that slow has not read is still there; most of what both have read is gone
    # (approximate trimming removes whole nodes of the stream only).
    kept = [int(_value(fields)) for _id, fields in await redis.xrange(stream, count=2000)]
    assert kept == list(range(kept[0], 1001)) and 200 <= kept[0] <= 300
    while await slow.consume_once(block_ms=10):
        pass
    assert await applied_by(db, "slow") == list(range(1001))
    assert await applied_by(db, "fast") == list(range(1000))
    # Both have read everything: the next publication trims all but the newest few.
    await publish(db, relay, 1001, 1)
    assert await redis.xlen(stream) < 150
    while await fast.consume_once(block_ms=10):
        pass
    assert await applied_by(db, "fast") == list(range(1002))


async def test_a_stream_without_groups_keeps_its_events_up_to_the_cap(
    db: Database, redis: Redis, producer: str, caplog: pytest.LogCaptureFixture
) -> None:
    """No group yet (its service has not started): nothing is trimmed short of the cap."""
    relay = OutboxRelay(db, redis, outbox, producer, maxlen=800, trim_every=0)
    await publish(db, relay, 0, 700)
    assert await redis.xlen(stream_name(producer)) == 700
    with caplog.at_level(logging.WARNING, logger="credit_common.relay"):
        await publish(db, relay, 700, 500)
    assert 800 <= await redis.xlen(stream_name(producer)) < 1200
    assert "no consumer group" in caplog.text


async def test_a_group_that_loses_events_to_the_cap_is_named_in_an_error(
    db: Database, redis: Redis, producer: str, caplog: pytest.LogCaptureFixture
) -> None:
    relay = OutboxRelay(db, redis, outbox, producer, maxlen=300, trim_every=0)
    stopped, done = consumer(db, redis, producer, "stopped"), consumer(db, redis, producer, "done")
    await stopped.ensure_group()
    await done.ensure_group()
    await publish(db, relay, 0, 200)
    while await done.consume_once(block_ms=10):
        pass
    with caplog.at_level(logging.ERROR, logger="credit_common.relay"):
        await publish(db, relay, 200, 300)
    assert 300 <= await redis.xlen(stream_name(producer)) < 500
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "stopped" in errors[0] and "done" not in errors[0]
    # What is left still reaches both.
    while await stopped.consume_once(block_ms=10):
        pass
    while await done.consume_once(block_ms=10):
        pass
    assert await applied_by(db, "done") == list(range(500))
    assert (await applied_by(db, "stopped"))[-1] == 499


async def test_what_every_group_has_read_is_kept_while_recent(
    db: Database, redis: Redis, producer: str
) -> None:
    """Readers without a group (the gateways' public cache) resume after a failure from
    where they stopped: entries younger than keep_seconds stay, read or not."""
    relay = OutboxRelay(db, redis, outbox, producer, trim_every=0, keep_seconds=3600)
    reader = consumer(db, redis, producer, "reader")
    await reader.ensure_group()
    await publish(db, relay, 0, 500)
    while await reader.consume_once(block_ms=10):
        pass
    await publish(db, relay, 500, 1)
    assert await redis.xlen(stream_name(producer)) == 501


def _value(fields: dict[bytes, bytes]) -> str:
    envelope = envelope_pb2.Envelope.FromString(fields[b"envelope"])
    value = wrappers_pb2.StringValue()
    envelope.payload.Unpack(value)
    return value.value
