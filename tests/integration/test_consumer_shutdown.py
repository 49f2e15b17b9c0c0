"""A stopping process lets its stream consumers finish the batch in hand.

SIGTERM sets the stop event the consumers were given at once (serve_until_stopped): a
consumer then reads no new batch, applies and acknowledges what it holds, and returns, so
nothing stays pending under its name (a new pod has a new name: another replica would
take such messages only once idle for 30 s, after every later event). Cancelling it, as
the process did, dropped the rest of its batch there. Only a consumer still busy when the
shutdown grace is over is cancelled, and it releases what it had not finished to the next
reclaim of any replica.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from google.protobuf import wrappers_pb2
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncConnection

from credit.events.v1 import envelope_pb2
from credit_common import heap
from credit_common.consumer import Handler, StreamConsumer
from credit_common.db import Database
from credit_common.grpc_server import GrpcService, serve_until_stopped
from credit_common.outbox import Event, Outbox
from credit_common.relay import OutboxRelay, stream_name
from support.event_tables import applied, metadata, outbox, processed

FIRST = [f"first-{i}" for i in range(10)]
LATER = [f"later-{i}" for i in range(5)]
GRACE = 20.0  # long: a slow machine must not cut the finishing short


@pytest.fixture
async def sigterm(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Callable[[], None]]:
    """Sends this process SIGTERM (serve_until_stopped's handler takes it); removes the
    handlers it installed afterwards, so the test session's loop keeps none."""
    monkeypatch.setattr(heap, "settle", lambda: None)  # not this test process's collector
    yield lambda: os.kill(os.getpid(), signal.SIGTERM)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(sig)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """The consuming service's database."""
    database = Database(database_url)
    async with database.transaction() as conn:
        await conn.run_sync(metadata.create_all)
    yield database
    await database.dispose()


@dataclass
class Producer:
    """Another service: its own database with an outbox, its relay, its stream."""

    name: str
    db: Database
    redis: Redis

    @property
    def stream(self) -> str:
        return stream_name(self.name)

    async def publish(self, values: list[str]) -> None:
        """Publishes one test.value event per value."""
        async with self.db.transaction() as conn:
            await Outbox(outbox, self.name).add(
                conn,
                *[Event("test.value", "S", wrappers_pb2.StringValue(value=v)) for v in values],
            )
        await OutboxRelay(self.db, self.redis, outbox, self.name).publish_once()


@pytest.fixture
async def producer(
    redis: Redis, make_database_url: Callable[[str], str]
) -> AsyncIterator[Producer]:
    database = Database(make_database_url("pub"))
    async with database.transaction() as conn:
        await conn.run_sync(metadata.create_all)
    made = Producer(f"shutdown-{uuid.uuid4().hex[:8]}", database, redis)
    yield made
    await redis.delete(made.stream, f"{made.stream}.dead")
    await database.dispose()


def value_of(envelope: envelope_pb2.Envelope) -> str:
    value = wrappers_pb2.StringValue()
    envelope.payload.Unpack(value)
    return value.value


async def record(conn: AsyncConnection, envelope: envelope_pb2.Envelope) -> None:
    await conn.execute(sa.insert(applied).values(value=value_of(envelope)))


def holding_at(value: str, holding: asyncio.Event, go_on: asyncio.Event) -> Handler:
    """A handler that, applying `value`, says it holds the batch and waits for `go_on`."""

    async def handler(conn: AsyncConnection, envelope: envelope_pb2.Envelope) -> None:
        if value_of(envelope) == value:
            holding.set()
            await go_on.wait()
        await record(conn, envelope)

    return handler


def consumer_of(
    db: Database, producer: Producer, name: str, handler: Handler, **options: int
) -> StreamConsumer:
    """Group "g"'s consumer `name` of the producer's stream."""
    return StreamConsumer(
        db,
        producer.redis,
        processed,
        stream=producer.stream,
        group="g",
        consumer=name,
        handlers={"test.value": handler},
        **options,
    )


async def applied_in_order(db: Database) -> list[str]:
    async with db.read() as conn:
        return list(await conn.scalars(sa.select(applied.c.value).order_by(applied.c.id)))


async def pending(producer: Producer, name: str | None = None) -> int:
    """How many messages of group "g" are pending (under consumer `name`)."""
    summary = await producer.redis.xpending(producer.stream, "g")
    if name is None:
        return int(summary["pending"])
    return sum(int(c["pending"]) for c in summary["consumers"] if c["name"] == name.encode())


def watched(job: Coroutine[Any, Any, None], outcome: list[str]) -> Awaitable[None]:
    """`job`, noting in `outcome` whether it returned or was cancelled."""

    async def run() -> None:
        try:
            await job
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise
        outcome.append("returned")

    return run()


def bare_service() -> GrpcService:
    return GrpcService(host="127.0.0.1", port=0, register=lambda server: None, service_names=[])


async def first_of(event: asyncio.Event, serving: asyncio.Task[None], within: float = 30) -> None:
    """Waits for `event`; fails at once if the server ended first (no signal handler then:
    a SIGTERM would end the test session)."""
    waiting = asyncio.ensure_future(event.wait())
    await asyncio.wait({waiting, serving}, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    if serving.done():
        serving.result()
        raise AssertionError("the server returned before the signal")
    assert event.is_set(), f"not within {within}s"


async def test_sigterm_lets_a_consumer_finish_and_ack_its_batch_and_read_no_other(
    db: Database, producer: Producer, sigterm: Callable[[], None]
) -> None:
    holding, go_on = asyncio.Event(), asyncio.Event()
    consumer = consumer_of(db, producer, "c1", holding_at("first-3", holding, go_on))
    await producer.publish(FIRST)
    await consumer.ensure_group()
    stop = asyncio.Event()
    outcome: list[str] = []
    serving = asyncio.create_task(
        serve_until_stopped(
            bare_service(), [watched(consumer.run(stop), outcome)], grace=GRACE, stop=stop
        )
    )
    try:
        await first_of(holding, serving)  # it holds all ten, and is applying the fourth
        await producer.publish(LATER)  # on the stream before the stop
        sigterm()
        await asyncio.sleep(0.5)  # the server has drained its (no) calls by now
        assert stop.is_set(), "SIGTERM did not set the consumers' stop event"
        assert outcome == [], "the consumer was cancelled while it held a batch"
        go_on.set()
        await asyncio.wait_for(serving, GRACE / 2)  # well within the grace
    finally:
        go_on.set()
        stop.set()
    assert outcome == ["returned"]
    assert await applied_in_order(db) == FIRST  # the whole batch, and nothing more
    assert await pending(producer, "c1") == 0
    # It read no batch after the stop: the events published meanwhile are still new to the
    # group, and the next consumer gets them, in order.
    successor = consumer_of(db, producer, "c2", record)
    assert await successor.reclaim() == 0
    assert await successor.consume_once(block_ms=100) == len(LATER)
    assert await applied_in_order(db) == FIRST + LATER
    assert await pending(producer) == 0


async def test_a_stop_while_handling_a_reclaimed_batch_reads_no_new_batch(
    db: Database, producer: Producer
) -> None:
    """A stop that comes while it applies what it reclaimed from a dead consumer: it
    finishes those and returns, without a read of new messages in between."""
    holding, go_on = asyncio.Event(), asyncio.Event()
    consumer = consumer_of(
        db, producer, "c1", holding_at("first-3", holding, go_on), reclaim_idle_ms=0
    )
    await producer.publish(FIRST)
    await consumer.ensure_group()
    await producer.redis.xreadgroup("g", "dead", {producer.stream: ">"}, count=100)  # it died
    stop = asyncio.Event()
    running = asyncio.create_task(consumer.run(stop, reclaim_every=0.05))
    try:
        await asyncio.wait_for(holding.wait(), 30)
        await producer.publish(LATER)
        stop.set()
        go_on.set()
        await asyncio.wait_for(running, 30)
    finally:
        stop.set()
        go_on.set()
    assert await applied_in_order(db) == FIRST
    assert await pending(producer) == 0
    successor = consumer_of(db, producer, "c2", record)
    assert await successor.consume_once(block_ms=100) == len(LATER)
    assert await applied_in_order(db) == FIRST + LATER


async def test_a_consumer_still_busy_after_the_grace_is_cancelled_and_releases_its_batch(
    db: Database, producer: Producer, sigterm: Callable[[], None]
) -> None:
    """The last resort: a handler that hangs past the grace. What the consumer had not
    finished goes to the next reclaim of any replica at once, not after the idle limit."""
    holding, never = asyncio.Event(), asyncio.Event()
    consumer = consumer_of(db, producer, "c1", holding_at("first-3", holding, never))
    await producer.publish(FIRST)
    await consumer.ensure_group()
    stop = asyncio.Event()
    outcome: list[str] = []
    grace = 1.0
    serving = asyncio.create_task(
        serve_until_stopped(
            bare_service(), [watched(consumer.run(stop), outcome)], grace=grace, stop=stop
        )
    )
    try:
        await first_of(holding, serving)
        loop = asyncio.get_running_loop()
        signalled = loop.time()
        sigterm()
        await asyncio.wait_for(serving, 30)
        took = loop.time() - signalled
    finally:
        stop.set()
        if not serving.done():
            serving.cancel()
    assert outcome == ["cancelled"]
    assert grace <= took < grace + 5
    assert await applied_in_order(db) == FIRST[:3]  # the fourth's transaction rolled back
    # Released: the rest looks idle for the idle limit (30 s by default), its deliveries not
    # counted again, so another replica's next reclaim takes it at once.
    left = await producer.redis.xpending_range(producer.stream, "g", min="-", max="+", count=100)
    assert [int(p["times_delivered"]) for p in left] == [1] * (len(FIRST) - 3)
    assert all(int(p["time_since_delivered"]) >= 30_000 for p in left)
    successor = consumer_of(db, producer, "c2", record)
    assert await successor.reclaim() == len(FIRST) - 3
    assert await applied_in_order(db) == FIRST
    assert await pending(producer) == 0
