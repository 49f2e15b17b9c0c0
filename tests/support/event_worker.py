"""A relay or a stream consumer as a real process, for tests that SIGKILL it mid-way.

    python tests/support/event_worker.py relay --db URL --redis URL --producer P [options]
    python tests/support/event_worker.py consume --db URL --redis URL --producer P --name C [options]

Both use the shared library's own classes (OutboxRelay, StreamConsumer) over a tiny
schema: the outbox, processed_events and ``applied``, a table without a unique key on
event_id, so an event applied twice shows up as two rows. Progress goes to stdout, one
line at a time and flushed, so a test can wait for a line before killing the process.

Fault injection, so a test can put a crash exactly where the guarantees are hardest:
``--die-after-xadd K`` (relay) SIGKILLs the process after the K-th batch reached the
stream and before the outbox marks it published; ``--die-before-ack K`` (consumer)
SIGKILLs it after the K-th commit and before its XACK; ``--hang-after K`` (consumer)
applies K events, then blocks inside the transaction of the next one, waiting to be killed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from credit.events.v1 import envelope_pb2
from credit_common.consumer import StreamConsumer
from credit_common.db import GUID, Database
from credit_common.outbox import outbox_table, processed_events_table
from credit_common.redis_client import make_redis
from credit_common.relay import OutboxRelay, stream_name

GROUP = "test-group"
EVENT_TYPE = "test.Happened"

metadata = sa.MetaData()
outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
applied = sa.Table(
    "applied",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("event_id", GUID(), nullable=False),  # deliberately not unique
    sa.Column("consumer", sa.String(40), nullable=False),
)


def say(line: str) -> None:
    print(line, flush=True)


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


async def unpublished(db: Database) -> int:
    async with db.read() as conn:
        count = await conn.scalar(
            sa.select(sa.func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        )
    return int(count or 0)


async def relay_main(args: argparse.Namespace) -> None:
    db = Database(args.db, pool_size=2)
    redis = make_redis(args.redis)
    if args.die_after_xadd:
        batches = 0
        real_pipeline = redis.pipeline

        def pipeline(*a: Any, **kw: Any) -> Any:
            pipe = real_pipeline(*a, **kw)
            real_execute = pipe.execute

            async def execute(*ea: Any, **ekw: Any) -> Any:
                nonlocal batches
                result = await real_execute(*ea, **ekw)
                batches += 1
                if batches == args.die_after_xadd:
                    say(f"dying after xadd of batch {batches}, before the outbox commit")
                    die()
                return result

            pipe.execute = execute  # type: ignore[method-assign]
            return pipe

        redis.pipeline = pipeline  # type: ignore[method-assign]
    relay = OutboxRelay(db, redis, outbox, args.producer, batch_size=args.batch_size)
    total = 0
    say("relay started")
    try:
        while True:
            published = await relay.publish_once()
            if published:
                total += published
                say(f"published {published} total {total}")
                if args.delay:
                    await asyncio.sleep(args.delay)
                continue
            # 0 means an empty outbox, or (PostgreSQL) another relay's lock still held,
            # e.g. by the backend of a relay just killed: ask the outbox itself.
            if args.until_empty and await unpublished(db) == 0:
                say(f"outbox empty; published {total}")
                return
            await asyncio.sleep(0.05)
    finally:
        await redis.aclose()
        await db.dispose()


async def drained(redis: Any, stream: str) -> bool:
    """Everything on the stream was delivered to the group and acknowledged."""
    last = (await redis.xinfo_stream(stream))["last-generated-id"]
    for group in await redis.xinfo_groups(stream):
        name = group["name"]
        if (name.decode() if isinstance(name, bytes) else name) == GROUP:
            return bool(group["pending"] == 0 and group["last-delivered-id"] == last)
    return False


async def consume_main(args: argparse.Namespace) -> None:
    db = Database(args.db, pool_size=2)
    redis = make_redis(args.redis)
    stream = stream_name(args.producer)
    applications = 0

    async def handler(conn: AsyncConnection, envelope: envelope_pb2.Envelope) -> None:
        nonlocal applications
        await conn.execute(
            sa.insert(applied).values(event_id=uuid.UUID(envelope.event_id), consumer=args.name)
        )
        if args.hang_after is not None and applications >= args.hang_after:
            say(f"hanging inside the transaction of event {envelope.event_id}")
            await asyncio.sleep(3600)
        applications += 1
        if args.delay:
            await asyncio.sleep(args.delay)

    if args.die_before_ack:
        acks = 0
        real_xack = redis.xack

        async def xack(*a: Any, **kw: Any) -> Any:
            nonlocal acks
            acks += 1
            if acks == args.die_before_ack:
                say(f"dying after commit {acks}, before its xack")
                die()
            return await real_xack(*a, **kw)

        redis.xack = xack  # type: ignore[method-assign]

    consumer = StreamConsumer(
        db,
        redis,
        processed_events,
        stream=stream,
        group=GROUP,
        consumer=args.name,
        handlers={EVENT_TYPE: handler},
        batch_size=args.batch_size,
        reclaim_idle_ms=args.reclaim_idle_ms,
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await consumer.ensure_group()
    say(f"consumer {args.name} started")
    task = asyncio.create_task(consumer.run(stop, reclaim_every=args.reclaim_every))
    try:
        while not task.done():
            if args.until_drained and await drained(redis, stream):
                say(f"drained; applied {applications}")
                stop.set()
                break
            await asyncio.sleep(0.1)
        await task
    finally:
        await redis.aclose()
        await db.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    for mode in ("relay", "consume"):
        p = sub.add_parser(mode)
        p.add_argument("--db", required=True)
        p.add_argument("--redis", required=True)
        p.add_argument("--producer", required=True)
        p.add_argument("--delay", type=float, default=0.0)
    relay = sub.choices["relay"]
    relay.add_argument("--batch-size", type=int, default=20)
    relay.add_argument("--until-empty", action="store_true")
    relay.add_argument("--die-after-xadd", type=int, default=0)
    consume = sub.choices["consume"]
    consume.add_argument("--name", required=True)
    consume.add_argument("--batch-size", type=int, default=50)
    consume.add_argument("--reclaim-idle-ms", type=int, default=500)
    consume.add_argument("--reclaim-every", type=float, default=0.5)
    consume.add_argument("--until-drained", action="store_true")
    consume.add_argument("--hang-after", type=int, default=None)
    consume.add_argument("--die-before-ack", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(relay_main(args) if args.mode == "relay" else consume_main(args))


if __name__ == "__main__":
    sys.exit(main())
