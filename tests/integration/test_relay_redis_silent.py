"""A Redis that takes the relay's connection and never answers holds up no write of the
service: on SQLite the relay used to wait on it inside a transaction, holding the
process's one writer turn, so every write stalled until Redis's timeout, again and again."""

from __future__ import annotations

import asyncio
import uuid

import sqlalchemy as sa
from google.protobuf import wrappers_pb2
from redis.asyncio import Redis

from credit_common.db import Database
from credit_common.outbox import Event, Outbox
from credit_common.relay import OutboxRelay
from support.event_tables import applied, metadata, outbox


async def test_a_silent_redis_holds_up_no_write_while_the_relay_waits_on_it(
    database_url: str,
) -> None:
    asked = asyncio.Event()
    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        if await reader.read(1):
            asked.set()  # a command came, and no answer will
        await asyncio.sleep(30)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    redis = Redis(host="127.0.0.1", port=port, socket_timeout=20)
    db = Database(database_url)
    try:
        async with db.transaction() as conn:
            await conn.run_sync(metadata.create_all)
            event = Event("test.value", "S", wrappers_pb2.StringValue(value="v"))
            await Outbox(outbox, f"silent-{uuid.uuid4().hex[:8]}").add(conn, event)
        relay = OutboxRelay(db, redis, outbox, "silent")
        publishing = asyncio.create_task(relay.publish_once())
        await asyncio.wait_for(asked.wait(), 10)

        async def write() -> None:  # the service's own write, meanwhile
            async with db.transaction() as conn:
                await conn.execute(sa.insert(applied).values(value="written"))

        # Not a measure of speed: without a bound, the write waited as long as Redis.
        await asyncio.wait_for(write(), 10)
        assert not publishing.done()  # it was written while the relay still waited
        publishing.cancel()
        async with db.read() as conn:
            assert await conn.scalar(sa.select(sa.func.count()).select_from(outbox)) >= 1
            unpublished = sa.select(sa.func.count()).where(outbox.c.published_at.is_(None))
            assert await conn.scalar(unpublished.select_from(outbox)) >= 1
    finally:
        for writer in held:
            writer.close()
        server.close()
        await redis.aclose()
        await db.dispose()
