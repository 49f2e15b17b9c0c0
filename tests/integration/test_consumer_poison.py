"""A message whose handler always fails is parked, and does not hold up the rest."""

from __future__ import annotations

import asyncio
import functools
import socket
import sys
import uuid
from collections import Counter

import sqlalchemy as sa
from google.protobuf import wrappers_pb2
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncConnection

from credit.events.v1 import envelope_pb2
from credit_common import metrics
from credit_common.consumer import StreamConsumer, consumer_name
from credit_common.db import Database
from credit_common.event_loops import Events, replay_parked
from credit_common.outbox import Event, Outbox
from credit_common.relay import OutboxRelay, stream_name
from support.event_tables import applied, metadata, outbox, processed


def _counts(group: str, stream: str) -> Counter[str]:
    """The metrics' counts of a consumer group's outcomes and a stream's publications."""
    value = metrics.REGISTRY.get_sample_value
    found: Counter[str] = Counter(
        published=int(value("credit_outbox_published_total", {"stream": stream}) or 0)
    )
    for outcome in ("applied", "duplicate", "failed", "parked"):
        labels = {"group": group, "outcome": outcome}
        found[outcome] = int(value("credit_events_consumed_total", labels) or 0)
    return found


async def test_a_poison_message_is_parked_after_its_deliveries_and_the_rest_go_through(
    database_url: str, redis: Redis, redis_url: str
) -> None:
    producer = f"poison-{uuid.uuid4().hex[:8]}"
    db = Database(database_url)
    try:
        async with db.transaction() as conn:
            await conn.run_sync(metadata.create_all)
            await Outbox(outbox, producer).add(
                conn,
                *[
                    Event("test.value", "S", wrappers_pb2.StringValue(value=v))
                    for v in ("ok-1", "poison", "ok-2")
                ],
            )
        counted = _counts("g", stream_name(producer))
        await OutboxRelay(db, redis, outbox, producer).publish_once()

        healed = False

        async def handler(conn: AsyncConnection, envelope: envelope_pb2.Envelope) -> None:
            value = wrappers_pb2.StringValue()
            envelope.payload.Unpack(value)
            await conn.execute(sa.insert(applied).values(value=value.value))
            if value.value == "poison" and not healed:
                raise RuntimeError("cannot apply")

        consumer = StreamConsumer(
            db,
            redis,
            processed,
            stream=stream_name(producer),
            group="g",
            consumer="c1",
            handlers={"test.value": handler},
            reclaim_idle_ms=0,
            max_deliveries=3,
        )
        await consumer.ensure_group()
        assert await consumer.consume_once(block_ms=100) == 3
        for _ in range(5):
            await consumer.reclaim()
        async with db.read() as conn:
            values = sorted(await conn.scalars(sa.select(applied.c.value)))
        assert values == ["ok-1", "ok-2"]  # the poison's writes were rolled back each time
        # What /metrics counts: published 3; applied 2; the poison failed 3 times, parked.
        assert _counts("g", stream_name(producer)) - counted == Counter(
            published=3, applied=2, failed=3, parked=1
        )
        assert (await redis.xpending(stream_name(producer), "g"))["pending"] == 0
        dead = await redis.xrange(consumer.dead_letter_stream)
        assert len(dead) == 1
        parked = envelope_pb2.Envelope.FromString(dead[0][1][b"envelope"])
        assert parked.type == "test.value"
        # Still failing, a replay (as at every start) leaves it parked; once the cause is
        # gone it is applied, once, and leaves the dead-letter stream.
        assert await consumer.replay_parked() == 0
        assert len(await redis.xrange(consumer.dead_letter_stream)) == 1
        # The operator's command says so by its exit status, and leaves it parked too.
        events = Events(outbox, producer, group="g", consume_from=[producer], processed=processed)
        replay = functools.partial(replay_parked, db, redis_url, events, {"test.value": handler})
        assert await replay() == 1
        assert await consumer.parked() == 1
        healed = True
        assert await replay() == 0
        assert await redis.xrange(consumer.dead_letter_stream) == []
        assert await consumer.parked() == 0
        assert await consumer.replay_parked() == 0
        async with db.read() as conn:
            values = sorted(await conn.scalars(sa.select(applied.c.value)))
        assert values == ["ok-1", "ok-2", "poison"]
    finally:
        await redis.delete(stream_name(producer), f"{stream_name(producer)}.dead")
        await db.dispose()


async def test_a_running_consumer_creates_its_group_again_when_redis_lost_it(
    database_url: str, redis: Redis
) -> None:
    producer = f"lost-{uuid.uuid4().hex[:8]}"
    db = Database(database_url)
    stop = asyncio.Event()

    async def handler(conn: AsyncConnection, envelope: envelope_pb2.Envelope) -> None:
        value = wrappers_pb2.StringValue()
        envelope.payload.Unpack(value)
        await conn.execute(sa.insert(applied).values(value=value.value))

    async def publish(value: str) -> None:
        async with db.transaction() as conn:
            await Outbox(outbox, producer).add(
                conn, Event("test.value", "S", wrappers_pb2.StringValue(value=value))
            )
        await OutboxRelay(db, redis, outbox, producer).publish_once()

    async def values() -> list[str]:
        async with db.read() as conn:
            return sorted(await conn.scalars(sa.select(applied.c.value)))

    async def until(expected: list[str]) -> None:
        for _ in range(200):
            if await values() == expected:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"applied {await values()}, expected {expected}")

    try:
        async with db.transaction() as conn:
            await conn.run_sync(metadata.create_all)
        consumer = StreamConsumer(
            db,
            redis,
            processed,
            stream=stream_name(producer),
            group="g",
            consumer="c1",
            handlers={"test.value": handler},
        )
        running = asyncio.create_task(consumer.run(stop))
        await publish("before")
        await until(["before"])
        await redis.delete(stream_name(producer))  # the stream and its group are gone
        await publish("after")
        await until(["after", "before"])
        assert not running.done()
    finally:
        stop.set()
        await asyncio.wait_for(running, 5)
        await redis.delete(stream_name(producer))
        await db.dispose()


async def test_a_restarted_consumer_takes_over_at_once_what_a_dead_one_on_its_host_left(
    database_url: str, redis: Redis
) -> None:
    producer = f"dead-{uuid.uuid4().hex[:8]}"
    db = Database(database_url)
    seen: list[str] = []

    async def handler(conn: AsyncConnection, envelope: envelope_pb2.Envelope) -> None:
        value = wrappers_pb2.StringValue()
        envelope.payload.Unpack(value)
        seen.append(value.value)

    # The pid of a process that has exited: a consumer by that name on this host is dead.
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await child.wait()
    gone_pid = child.pid
    try:
        async with db.transaction() as conn:
            await conn.run_sync(metadata.create_all)
            await Outbox(outbox, producer).add(
                conn, Event("test.value", "S", wrappers_pb2.StringValue(value="left"))
            )
        await OutboxRelay(db, redis, outbox, producer).publish_once()

        def consumer(name: str) -> StreamConsumer:
            return StreamConsumer(
                db,
                redis,
                processed,
                stream=stream_name(producer),
                group="g",
                consumer=name,
                handlers={"test.value": handler},
            )

        dead = consumer(f"{socket.gethostname()}-{gone_pid}")
        await dead.ensure_group()
        # The dead process had read the message and died before acknowledging it.
        await redis.xreadgroup("g", dead.consumer, {stream_name(producer): ">"}, count=10)
        assert seen == []
        assert await consumer(consumer_name()).recover() == 1
        assert seen == ["left"]
        assert (await redis.xpending(stream_name(producer), "g"))["pending"] == 0
        names = [c["name"] for c in await redis.xinfo_consumers(stream_name(producer), "g")]
        assert dead.consumer.encode() not in names and dead.consumer not in names
    finally:
        await redis.delete(stream_name(producer))
        await db.dispose()
