"""Killing the outbox relay or a stream consumer mid-way loses and duplicates nothing.

The relay and the consumers run as real processes (tests/support/event_worker.py) and are
SIGKILLed: from outside at whatever point they have reached, and from inside at the exact
points the guarantees rest on (after XADD before the outbox commit; after the consumer's
commit before its XACK). The stream may carry an event twice (at-least-once publishing);
the consumers' table of applications must still hold every event exactly once.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from google.protobuf import wrappers_pb2
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncConnection

from credit.events.v1 import envelope_pb2
from credit_common.consumer import StreamConsumer
from credit_common.db import Database
from credit_common.outbox import Event, Outbox
from credit_common.relay import OutboxRelay, stream_name
from support import event_worker as worker
from support.backends import BACKEND

pytestmark = pytest.mark.slow

N = 2_000
WORKER_SCRIPT = Path(__file__).parents[1] / "support" / "event_worker.py"
RELAY_BATCH = 20


class Worker:
    """One event_worker.py process, its output in a file (a pipe could fill and block it)."""

    def __init__(self, tmp: Path, name: str, args: list[str]) -> None:
        self.name = name
        self.log = tmp / f"{name}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(WORKER_SCRIPT), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def describe(self) -> str:
        return f"{self.name} (exit {self.process.poll()}):\n{self.output()}"

    async def exit_code(self, within: float = 30) -> int:
        async def exited() -> bool:
            return self.process.poll() is not None

        # No process to watch: exiting between two checks is what this waits for.
        await eventually(exited, f"{self.name} to exit", within=within)
        return self.process.returncode

    async def wait_for_line(self, text: str, within: float = 30) -> None:
        async def printed() -> bool:
            return text in self.output()

        await eventually(printed, repr(text), self, within=within)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


async def eventually(
    check: Callable[[], Awaitable[bool]],
    what: str,
    proc: Worker | None = None,
    *,
    within: float = 30,
    every: float = 0.02,
) -> None:
    """Waits for check(), never past `within` seconds, and failing at once if the process
    it waits on dies first."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if proc is not None and proc.process.poll() is not None:
            raise AssertionError(f"{proc.describe()}\nexited before {what}")
        if asyncio.get_running_loop().time() > deadline:
            where = f"{proc.describe()}\n" if proc is not None else ""
            raise AssertionError(f"{where}no {what} within {within}s")
        await asyncio.sleep(every)


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(name: str, *args: str) -> Worker:
        started.append(Worker(tmp_path, name, list(args)))
        return started[-1]

    yield start
    for proc in started:  # before the database fixture drops the database
        proc.kill()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=2)
    async with database.transaction() as conn:
        await conn.run_sync(worker.metadata.create_all)
    yield database
    await database.dispose()


@pytest.fixture
async def producer(redis: Redis) -> AsyncIterator[str]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    await redis.delete(stream_name(name))


async def write_events(db: Database, producer: str, how_many: int = N) -> list[str]:
    """Writes events through the outbox, a few hundred per transaction; returns their ids."""
    outbox = Outbox(worker.outbox, producer)
    ids: list[str] = []
    for start in range(0, how_many, 500):
        events = [
            Event(worker.EVENT_TYPE, "subject", wrappers_pb2.StringValue(value=f"event {i}"))
            for i in range(start, min(start + 500, how_many))
        ]
        async with db.transaction() as conn:
            ids += await outbox.add(conn, *events)
    return ids


async def scalar(db: Database, query: sa.Select[tuple[int]]) -> int:
    async with db.read() as conn:
        return int(await conn.scalar(query) or 0)


def count(table: sa.Table) -> sa.Select[tuple[int]]:
    return sa.select(sa.func.count()).select_from(table)


UNPUBLISHED = count(worker.outbox).where(worker.outbox.c.published_at.is_(None))


async def outbox_ids_in_order(db: Database) -> list[str]:
    async with db.read() as conn:
        rows = await conn.scalars(sa.select(worker.outbox.c.event_id).order_by(worker.outbox.c.seq))
        return [str(event_id) for event_id in rows]


async def stream_event_ids(redis: Redis, stream: str) -> list[str]:
    return [
        envelope_pb2.Envelope.FromString(fields[b"envelope"]).event_id
        for _id, fields in await redis.xrange(stream)
    ]


async def pending_by_consumer(redis: Redis, stream: str) -> dict[str, int]:
    summary = await redis.xpending(stream, worker.GROUP)
    return {c["name"].decode(): int(c["pending"]) for c in summary["consumers"]}


def relay_args(database_url: str, redis_url: str, producer: str) -> list[str]:
    return [
        "relay",
        *("--db", database_url, "--redis", redis_url, "--producer", producer),
        *("--batch-size", str(RELAY_BATCH)),
    ]


async def test_killing_the_relay_mid_way_loses_no_event(
    db: Database,
    database_url: str,
    redis: Redis,
    redis_url: str,
    producer: str,
    spawn: Callable[..., Worker],
) -> None:
    ids = await write_events(db, producer)
    stream = stream_name(producer)
    args = relay_args(database_url, redis_url, producer)

    # 1. SIGKILL from outside, wherever the relay is once a few hundred events are out.
    first = spawn("relay-1", *args, "--delay", "0.05")

    async def some_published() -> bool:
        return int(await redis.xlen(stream)) >= 300

    await eventually(some_published, "300 events on the stream", first)
    first.kill()
    assert first.process.returncode == -signal.SIGKILL
    # What the killed relay had already sent (a COMMIT, a pipeline) may still land: read
    # the state once two reads 0.1 s apart agree.
    reads: list[tuple[int, int]] = []

    async def settled() -> bool:
        reads.append((int(await redis.xlen(stream)), await scalar(db, UNPUBLISHED)))
        return len(reads) > 1 and reads[-1] == reads[-2]

    await eventually(settled, "settled stream and outbox", within=10, every=0.1)
    on_stream, left = reads[-1]
    assert 0 < on_stream < N, "the kill was not mid-way"
    assert 0 < left < N, "the kill was not mid-way"

    # 2. A crash in the at-least-once window: the third batch is on the stream but the
    # outbox transaction that would mark it published never commits.
    second = spawn("relay-2", *args, "--die-after-xadd", "3")
    assert await second.exit_code() == -signal.SIGKILL, second.describe()
    assert "dying after xadd of batch 3" in second.output()
    assert await scalar(db, UNPUBLISHED) == left - 2 * RELAY_BATCH
    assert await redis.xlen(stream) == on_stream + 3 * RELAY_BATCH

    # 3. A relay that runs until the outbox is empty.
    third = spawn("relay-3", *args, "--until-empty")
    assert await third.exit_code() == 0, third.describe()

    assert await scalar(db, UNPUBLISHED) == 0
    published = await stream_event_ids(redis, stream)
    assert set(published) == set(ids), "an event never reached the stream"
    # at-least-once: the batch of the crash went out twice, and nothing else is on the stream
    assert len(published) >= N + RELAY_BATCH
    # and the stream keeps the outbox's order (a republished batch only repeats events)
    assert list(dict.fromkeys(published)) == await outbox_ids_in_order(db)


async def test_killing_consumers_mid_way_applies_every_event_exactly_once(
    db: Database,
    database_url: str,
    redis: Redis,
    redis_url: str,
    producer: str,
    spawn: Callable[..., Worker],
) -> None:
    ids = await write_events(db, producer)
    stream = stream_name(producer)
    # Publish everything, with one batch twice (a relay crash after XADD), so the
    # consumers also meet the same event in two stream messages.
    args = relay_args(database_url, redis_url, producer)
    crashed = spawn("relay-1", *args, "--die-after-xadd", "2")
    assert await crashed.exit_code() == -signal.SIGKILL, crashed.describe()
    relay = spawn("relay-2", *args, "--until-empty")
    assert await relay.exit_code() == 0, relay.describe()
    assert await redis.xlen(stream) == N + RELAY_BATCH

    consume = [
        "consume",
        *("--db", database_url, "--redis", redis_url, "--producer", producer),
        *("--batch-size", "50", "--reclaim-idle-ms", "500", "--reclaim-every", "0.5"),
    ]
    applied = count(worker.applied)

    # 1. c1 is SIGKILLed from outside while it holds a batch: 120 events applied and
    # committed, the next one inside an open transaction, the rest of its batch pending.
    c1 = spawn("consumer-1", *consume, "--name", "c1", "--hang-after", "120")
    await c1.wait_for_line("hanging inside the transaction")
    c1.kill()
    assert c1.process.returncode == -signal.SIGKILL
    assert await scalar(db, applied) == 120  # the open transaction rolled back
    assert (await pending_by_consumer(redis, stream)).get("c1", 0) > 0, "no message was pending"

    # 2. c2 reclaims what c1 left pending (XAUTOCLAIM) and is killed after a commit,
    # before the XACK that would have followed it.
    c2 = spawn("consumer-2", *consume, "--name", "c2", "--die-before-ack", "600")
    assert await c2.exit_code() == -signal.SIGKILL, c2.describe()
    assert "dying after commit 600" in c2.output()
    at_kill = await scalar(db, applied)
    assert 120 < at_kill < N, "the kill was not mid-way"
    assert (await pending_by_consumer(redis, stream)).get("c2", 0) > 0, "no message was pending"

    # 3. c3 reclaims everything both left behind and finishes the stream.
    c3 = spawn("consumer-3", *consume, "--name", "c3", "--until-drained")
    assert await c3.exit_code() == 0, c3.describe()

    async with db.read() as conn:
        rows = (
            await conn.execute(sa.select(worker.applied.c.event_id, worker.applied.c.consumer))
        ).all()
        processed = await conn.scalar(count(worker.processed_events))
    applied_ids = [str(row.event_id) for row in rows]
    assert len(applied_ids) == N, "an event was lost or applied twice"
    assert set(applied_ids) == set(ids)
    assert processed == N
    by_consumer = {name: sum(1 for r in rows if r.consumer == name) for name in ("c1", "c2", "c3")}
    assert by_consumer["c1"] == 120 and by_consumer["c2"] > 0 and by_consumer["c3"] > 0
    summary = await redis.xpending(stream, worker.GROUP)
    assert summary["pending"] == 0


async def test_a_pending_message_trimmed_from_the_stream_does_not_stall_the_consumer(
    db: Database, redis: Redis, producer: str
) -> None:
    """A dead consumer's pending message can be trimmed away (the relay's MAXLEN): Redis 6.2
    then returns it from XAUTOCLAIM as nil. The consumer must carry on with the rest."""
    stream = stream_name(producer)
    relay = OutboxRelay(db, redis, worker.outbox, producer)
    first = await write_events(db, producer, 3)
    assert await relay.publish_once() == 3
    await redis.xgroup_create(stream, worker.GROUP, id="0")
    await redis.xreadgroup(worker.GROUP, "dead", {stream: ">"}, count=10)  # never acknowledged
    gone_id, gone = (await redis.xrange(stream))[1]
    await redis.xdel(stream, gone_id)  # as MAXLEN trimming does
    later = await write_events(db, producer, 2)
    assert await relay.publish_once() == 2

    async def apply(conn: AsyncConnection, envelope: envelope_pb2.Envelope) -> None:
        await conn.execute(
            sa.insert(worker.applied).values(
                event_id=uuid.UUID(envelope.event_id), consumer="alive"
            )
        )

    consumer = StreamConsumer(
        db,
        redis,
        worker.processed_events,
        stream=stream,
        group=worker.GROUP,
        consumer="alive",
        handlers={worker.EVENT_TYPE: apply},
        reclaim_idle_ms=0,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop, reclaim_every=0.1))
    try:

        async def all_applied() -> bool:
            return await scalar(db, count(worker.applied)) >= 4

        await eventually(all_applied, "4 applied events", within=10)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    async with db.read() as conn:
        applied_ids = {str(i) for i in await conn.scalars(sa.select(worker.applied.c.event_id))}
    assert applied_ids == {*first, *later} - {
        envelope_pb2.Envelope.FromString(gone[b"envelope"]).event_id
    }


@pytest.mark.skipif(BACKEND != "postgres", reason="notifications are PostgreSQL's")
async def test_on_postgresql_a_commit_wakes_the_relay_at_once(
    db: Database, redis: Redis, producer: str
) -> None:
    """The relay waits for the outbox's notification instead of polling: with polling set to
    a minute, committed events still reach the stream at once."""
    relay = OutboxRelay(db, redis, worker.outbox, producer)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop, idle_seconds=60, notified_idle_seconds=60))
    try:
        await asyncio.sleep(0.5)  # listening
        for round_ in range(3):
            await write_events(db, producer, 5)
            for _ in range(100):
                if await redis.xlen(stream_name(producer)) == 5 * (round_ + 1):
                    break
                await asyncio.sleep(0.02)
            assert await redis.xlen(stream_name(producer)) == 5 * (round_ + 1)
    finally:
        stop.set()
        await running
