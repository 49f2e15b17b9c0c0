"""A message whose handler fails is retried at the reclaim's pace, not at once: a passing
fault (a deadlock, a failover) does not use up its deliveries in milliseconds and get it
parked; one that keeps failing is still parked after max_deliveries."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid

import pytest
import sqlalchemy as sa
from google.protobuf import wrappers_pb2
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncConnection

from credit.events.v1 import envelope_pb2
from credit_common import consumer as consumer_module
from credit_common.db import Database
from credit_common.outbox import Event, Outbox
from credit_common.relay import OutboxRelay, stream_name
from support.event_tables import applied, consumer_of, metadata, outbox


async def applied_values(db: Database) -> list[str]:
    async with db.read() as conn:
        return sorted(await conn.scalars(sa.select(applied.c.value)))


async def publish(db: Database, redis: Redis, producer: str, *values: str) -> None:
    """Creates the tables and publishes one test.value event per value."""
    async with db.transaction() as conn:
        await conn.run_sync(metadata.create_all)
        await Outbox(outbox, producer).add(
            conn, *[Event("test.value", "S", wrappers_pb2.StringValue(value=v)) for v in values]
        )
    await OutboxRelay(db, redis, outbox, producer).publish_once()


async def times_delivered(redis: Redis, stream: str) -> list[int]:
    pending = await redis.xpending_range(stream, "g", min="-", max="+", count=10)
    return [int(p["times_delivered"]) for p in pending]


async def test_a_message_failing_at_start_is_retried_after_the_idle_limit_not_at_once(
    database_url: str, redis: Redis
) -> None:
    producer = f"retry-{uuid.uuid4().hex[:8]}"
    stream = stream_name(producer)
    db = Database(database_url)
    failing = True
    calls = 0

    async def handler(conn: AsyncConnection, envelope: envelope_pb2.Envelope) -> None:
        nonlocal calls
        calls += 1
        value = wrappers_pb2.StringValue()
        envelope.payload.Unpack(value)
        await conn.execute(sa.insert(applied).values(value=value.value))
        if failing:
            raise RuntimeError("deadlock detected")

    try:
        await publish(db, redis, producer, "v")
        consumer = consumer_of(
            db, redis, stream, "same-name", handler, reclaim_idle_ms=400, max_deliveries=3
        )
        await consumer.ensure_group()
        # A first life of this consumer name read it and failed; the process restarted.
        assert await consumer.consume_once(block_ms=100) == 1
        assert await consumer.recover() == 1
        # Tried once more, not again and again until parked.
        assert calls == 2
        assert await times_delivered(redis, stream) == [2]
        assert await redis.xlen(consumer.dead_letter_stream) == 0
        assert await consumer.reclaim() == 0  # not idle long enough yet
        assert calls == 2
        # The passing fault is over by the next try, after the idle limit.
        failing = False
        await asyncio.sleep(0.5)
        assert await consumer.reclaim() == 1
        assert calls == 3
        assert await applied_values(db) == ["v"]
        assert (await redis.xpending(stream, "g"))["pending"] == 0
        assert await redis.xlen(consumer.dead_letter_stream) == 0
    finally:
        await redis.delete(stream, f"{stream}.dead")
        await db.dispose()


async def test_a_message_that_keeps_failing_is_parked_after_spaced_deliveries(
    database_url: str, redis: Redis
) -> None:
    producer = f"retry-{uuid.uuid4().hex[:8]}"
    stream = stream_name(producer)
    db = Database(database_url)
    tried: list[float] = []
    loop = asyncio.get_running_loop()

    async def handler(conn: AsyncConnection, envelope: envelope_pb2.Envelope) -> None:
        tried.append(loop.time())
        raise RuntimeError("cannot apply")

    stop = asyncio.Event()
    consumer = consumer_of(db, redis, stream, "c1", handler, reclaim_idle_ms=200, max_deliveries=3)
    try:
        await publish(db, redis, producer, "poison")
        await consumer.ensure_group()
        await redis.xreadgroup("g", "c1", {stream: ">"}, count=10)  # read, then it died
        running = asyncio.create_task(consumer.run(stop, reclaim_every=0.05))
        for _ in range(100):
            if await redis.xlen(consumer.dead_letter_stream):
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(running, 5)
        assert await redis.xlen(consumer.dead_letter_stream) == 1
        assert (await redis.xpending(stream, "g"))["pending"] == 0
        assert len(tried) == 2  # deliveries 2 and 3: the first died with its reader
        assert tried[1] - tried[0] >= 0.15  # spaced by the idle limit
    finally:
        stop.set()
        await redis.delete(stream, f"{stream}.dead")
        await db.dispose()


async def test_recover_goes_past_a_pending_message_trimmed_from_the_stream(
    database_url: str, redis: Redis
) -> None:
    """Its own pending messages, read again at start, may begin with one trimmed from the
    stream (nothing left to apply): recover acknowledges it and handles those after it."""
    producer = f"retry-{uuid.uuid4().hex[:8]}"
    stream = stream_name(producer)
    db = Database(database_url)

    async def handler(conn: AsyncConnection, envelope: envelope_pb2.Envelope) -> None:
        value = wrappers_pb2.StringValue()
        envelope.payload.Unpack(value)
        await conn.execute(sa.insert(applied).values(value=value.value))

    try:
        await publish(db, redis, producer, "a", "b", "c")
        consumer = consumer_of(db, redis, stream, "same-name", handler, batch_size=1)
        await consumer.ensure_group()
        await redis.xreadgroup("g", "same-name", {stream: ">"}, count=10)  # then it died
        first_id = (await redis.xrange(stream, count=1))[0][0]
        await redis.xdel(stream, first_id)
        assert await consumer.recover() == 2
        assert await applied_values(db) == ["b", "c"]
        assert (await redis.xpending(stream, "g"))["pending"] == 0
    finally:
        await redis.delete(stream, f"{stream}.dead")
        await db.dispose()


async def test_an_outage_parks_nothing_and_what_it_held_is_applied_in_order_once_over(
    database_url: str, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database away for a few minutes parked every message read meanwhile (each counted
    its failed deliveries), and a running consumer never applied them again. Now a failure
    the database's absence explains parks nothing: the consumer waits, then applies its own
    pending messages first, in their order."""
    monkeypatch.setattr(consumer_module, "AWAY_WAIT_SECONDS", 0.05)
    producer = f"away-{uuid.uuid4().hex[:8]}"
    stream = stream_name(producer)
    db = Database(database_url)
    away = 5  # failures before the database answers again
    order: list[str] = []

    async def handler(conn: AsyncConnection, envelope: envelope_pb2.Envelope) -> None:
        nonlocal away
        if away:
            away -= 1
            lost = sqlite3.OperationalError("unable to open database file")
            raise sa.exc.OperationalError("SELECT 1", None, lost)
        value = wrappers_pb2.StringValue()
        envelope.payload.Unpack(value)
        order.append(value.value)
        await conn.execute(sa.insert(applied).values(value=value.value))

    stop = asyncio.Event()
    consumer = consumer_of(
        db, redis, stream, "c1", handler, reclaim_idle_ms=60_000, max_deliveries=2
    )
    try:
        await publish(db, redis, producer, "first", "second", "third")
        running = asyncio.create_task(consumer.run(stop, reclaim_every=0.05))
        for _ in range(100):
            if len(order) == 3:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(running, 5)
        assert order == ["first", "second", "third"]
        assert await redis.xlen(consumer.dead_letter_stream) == 0
        assert (await redis.xpending(stream, "g"))["pending"] == 0
    finally:
        stop.set()
        await redis.delete(stream, f"{stream}.dead")
        await db.dispose()


async def test_a_running_consumer_applies_what_was_parked_without_a_restart(
    database_url: str, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consumer_module, "REPLAY_PARKED_EVERY", 0.1)
    producer = f"parked-{uuid.uuid4().hex[:8]}"
    stream = stream_name(producer)
    db = Database(database_url)
    mended = False

    async def handler(conn: AsyncConnection, envelope: envelope_pb2.Envelope) -> None:
        if not mended:
            raise RuntimeError("a fault since mended")
        value = wrappers_pb2.StringValue()
        envelope.payload.Unpack(value)
        await conn.execute(sa.insert(applied).values(value=value.value))

    stop = asyncio.Event()
    consumer = consumer_of(db, redis, stream, "c1", handler, reclaim_idle_ms=0, max_deliveries=1)
    try:
        await publish(db, redis, producer, "v")
        running = asyncio.create_task(consumer.run(stop, reclaim_every=0.05))
        for _ in range(100):
            if await redis.xlen(consumer.dead_letter_stream):
                break
            await asyncio.sleep(0.05)
        assert await redis.xlen(consumer.dead_letter_stream) == 1
        mended = True
        for _ in range(100):
            if await applied_values(db):
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(running, 5)
        assert await applied_values(db) == ["v"]
        assert await redis.xlen(consumer.dead_letter_stream) == 0
    finally:
        stop.set()
        await redis.delete(stream, f"{stream}.dead")
        await db.dispose()


async def test_tries_during_an_outage_do_not_count_towards_parking(
    database_url: str, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each try during an outage counted as a delivery: after it, a message was parked at
    its first failure of its own, and then applied after the messages behind it."""
    monkeypatch.setattr(consumer_module, "AWAY_WAIT_SECONDS", 0.05)
    producer = f"away-{uuid.uuid4().hex[:8]}"
    stream = stream_name(producer)
    db = Database(database_url)
    away, own_failures = 6, 1
    delivered_at_failure: list[int] = []

    async def handler(conn: AsyncConnection, envelope: envelope_pb2.Envelope) -> None:
        nonlocal away, own_failures
        if away:
            away -= 1
            lost = sqlite3.OperationalError("unable to open database file")
            raise sa.exc.OperationalError("SELECT 1", None, lost)
        value = wrappers_pb2.StringValue()
        envelope.payload.Unpack(value)
        if value.value == "first" and own_failures:
            own_failures -= 1
            delivered_at_failure.extend(await times_delivered(redis, stream))
            raise RuntimeError("a fault of its own, once")
        await conn.execute(sa.insert(applied).values(value=value.value))

    stop = asyncio.Event()
    consumer = consumer_of(db, redis, stream, "c1", handler, reclaim_idle_ms=200, max_deliveries=3)
    try:
        await publish(db, redis, producer, "first", "second")
        running = asyncio.create_task(consumer.run(stop, reclaim_every=0.05))
        for _ in range(100):
            if len(await applied_values(db)) == 2:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(running, 5)
        assert await applied_values(db) == ["first", "second"]
        assert await redis.xlen(consumer.dead_letter_stream) == 0
        assert delivered_at_failure and max(delivered_at_failure) < 3, delivered_at_failure
    finally:
        stop.set()
        await redis.delete(stream, f"{stream}.dead")
        await db.dispose()
