"""A group does not keep every consumer it ever had: consumers idle for long with nothing
pending are deleted from it; one with messages pending stays until they are done."""

from __future__ import annotations

import asyncio
import uuid

import sqlalchemy as sa
from google.protobuf import wrappers_pb2
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncConnection

from credit.events.v1 import envelope_pb2
from credit_common.consumer import StreamConsumer
from credit_common.db import Database
from credit_common.outbox import Event, Outbox
from credit_common.relay import OutboxRelay, stream_name
from support.event_tables import applied, consumer_of, metadata, outbox


async def handler(conn: AsyncConnection, envelope: envelope_pb2.Envelope) -> None:
    value = wrappers_pb2.StringValue()
    envelope.payload.Unpack(value)
    await conn.execute(sa.insert(applied).values(value=value.value))


async def names(redis: Redis, stream: str) -> set[str]:
    return {info["name"].decode() for info in await redis.xinfo_consumers(stream, "g")}


async def test_idle_consumers_with_nothing_pending_leave_the_group_and_pending_ones_stay(
    database_url: str, redis: Redis
) -> None:
    producer = f"names-{uuid.uuid4().hex[:8]}"
    stream = stream_name(producer)
    db = Database(database_url)
    try:
        async with db.transaction() as conn:
            await conn.run_sync(metadata.create_all)

        async def publish(*values: str) -> None:
            async with db.transaction() as conn:
                await Outbox(outbox, producer).add(
                    conn,
                    *[Event("test.value", "S", wrappers_pb2.StringValue(value=v)) for v in values],
                )
            await OutboxRelay(db, redis, outbox, producer).publish_once()

        def consumer(name: str, **limits: int) -> StreamConsumer:
            return consumer_of(db, redis, stream, name, handler, **limits)

        # A pod that read and applied everything, then went away.
        gone = consumer("gone-pod")
        await gone.ensure_group()
        await publish("a", "b")
        assert await gone.consume_once(block_ms=100) == 2
        # A pod that read a message and died before applying it.
        await publish("c")
        await redis.xreadgroup("g", "crashed-pod", {stream: ">"}, count=1)
        await asyncio.sleep(0.1)
        assert await names(redis, stream) == {"gone-pod", "crashed-pod"}

        live = consumer("live-pod", reclaim_idle_ms=60_000, forget_idle_ms=50)
        assert await live.forget_idle_consumers() == ["gone-pod"]
        assert await names(redis, stream) == {"crashed-pod"}
        # Deleting it now would lose "c" for good: whatever XINFO said, it stays.
        assert await live._forget_if_empty(keys=[stream], args=["g", "crashed-pod"]) == -1
        assert await names(redis, stream) == {"crashed-pod"}

        # Once its message is taken over and applied, the crashed pod's name goes too.
        live.reclaim_idle_ms = 0
        assert await live.reclaim() == 1
        assert await names(redis, stream) == {"live-pod"}
        async with db.read() as conn:
            assert sorted(await conn.scalars(sa.select(applied.c.value))) == ["a", "b", "c"]
        assert (await redis.xpending(stream, "g"))["pending"] == 0

        # A live consumer deleted on a quiet stream loses nothing: its next read makes it again.
        await asyncio.sleep(0.1)
        other = consumer("other-pod", forget_idle_ms=50)
        assert await other.forget_idle_consumers() == ["live-pod"]
        await publish("d")
        assert await live.consume_once(block_ms=100) == 1
        assert await names(redis, stream) == {"live-pod"}
    finally:
        await db.dispose()
