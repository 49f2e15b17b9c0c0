"""Consumes a Redis stream in a consumer group: dedupes by event id, acknowledges after
its own commit, reclaims messages a dead consumer left pending, and stops without leaving
any (it finishes the batch in hand)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import sqlalchemy as sa
from redis.asyncio import Redis
from redis.exceptions import ResponseError
from sqlalchemy.ext.asyncio import AsyncConnection

from credit.events.v1 import envelope_pb2
from credit_common import metrics, telemetry
from credit_common.db import Database, insert_ignore, unavailable
from credit_common.timeutil import utcnow

log = logging.getLogger(__name__)

Handler = Callable[[AsyncConnection, envelope_pb2.Envelope], Awaitable[None]]

# How long `run` blocks in one XREADGROUP: also how long a stop may wait for a read under
# way, which is let finish (a read cut off after Redis delivered leaves its batch pending).
READ_BLOCK_MS = 200
# How long a consumer cancelled mid-batch tries to give back what it had not finished.
RELEASE_SECONDS = 1.0
# How long a consumer waits after the database was away before it tries
# again, and how often it applies again what its group parked, while it runs.
AWAY_WAIT_SECONDS = 2.0
REPLAY_PARKED_EVERY = 300.0
# A consumer of the group idle this long with nothing pending is deleted from it (see
# `forget_idle_consumers`): every pod or process that ever consumed leaves its name.
FORGET_IDLE_MS = 3_600_000

# Deletes consumer ARGV[2] of group ARGV[1] on stream KEYS[1] if nothing is pending under
# its name, in one step: a message it read meanwhile keeps it (deleting a consumer drops
# what it has pending, which then no one would reclaim).
_FORGET_IF_EMPTY = """
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then
  return -1
end
return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
"""


def consumer_name() -> str:
    """This process's consumer name: host name and pid (see `_gone_from_this_host`)."""
    return f"{socket.gethostname()}-{os.getpid()}"


def _gone_from_this_host(name: str) -> bool:
    """Whether `name` is a consumer_name() of this host whose process no longer runs."""
    host, _, pid = name.rpartition("-")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Away(Exception):
    """A message could not be applied because the database is away just now: no fault of
    the message's. It stays pending, counted towards no parking."""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class StreamConsumer:
    def __init__(
        self,
        db: Database,
        redis: Redis,
        processed: sa.Table,
        *,
        stream: str,
        group: str,
        consumer: str,
        handlers: Mapping[str, Handler],
        batch_size: int = 100,
        reclaim_idle_ms: int = 30_000,
        max_deliveries: int = 10,
        forget_idle_ms: int = FORGET_IDLE_MS,
    ) -> None:
        self.db = db
        self.redis = redis
        self.processed = processed
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.handlers = dict(handlers)
        self.batch_size = batch_size
        self.reclaim_idle_ms = reclaim_idle_ms
        self.max_deliveries = max_deliveries
        self.forget_idle_ms = forget_idle_ms
        self.dead_letter_stream = f"{stream}.dead"
        self._forget_if_empty = redis.register_script(_FORGET_IF_EMPTY)

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def reclaim(self) -> int:
        """Takes over messages pending longer than the idle limit and processes them."""
        result = await self.redis.xautoclaim(
            self.stream,
            self.group,
            self.consumer,
            min_idle_time=self.reclaim_idle_ms,
            start_id="0-0",
            count=self.batch_size,
        )
        messages: list[tuple[bytes, dict[bytes, bytes]]] = result[1]
        # A message deleted from the stream (trimmed) while pending: Redis < 7 returns it as
        # nil (and redis-py drops its id); Redis 7 leaves it out. Nothing to apply.
        await self._handle_all([(i, f) for i, f in messages if f is not None])
        await self.forget_idle_consumers()
        return len(messages)

    async def forget_idle_consumers(self) -> list[str]:
        """Deletes from the group the other consumers idle for `forget_idle_ms` with
        nothing pending (processes and pods long gone: each had a name of its own), so the
        group does not list every consumer it ever had. One that has something pending is
        kept (reclaim takes its messages over after the idle limit; it goes once they are
        done), and so is one that reads meanwhile. A live consumer deleted on a quiet
        stream loses nothing: its next read makes it again. Returns the names deleted."""
        forgotten: list[str] = []
        for info in await self.redis.xinfo_consumers(self.stream, self.group):
            name = _text(info["name"])
            if name == self.consumer or info["pending"] or info["idle"] < self.forget_idle_ms:
                continue
            deleted = await self._forget_if_empty(keys=[self.stream], args=[self.group, name])
            if deleted == 0:
                forgotten.append(name)
        if forgotten:
            log.info(
                "%s: consumers idle with nothing pending deleted from group %s: %s",
                self.stream,
                self.group,
                ", ".join(forgotten),
            )
        return forgotten

    async def recover(self, stop: asyncio.Event | None = None) -> int:
        """At start: handles what this consumer's name left pending (a container restarted
        with the same host name and pid), and takes over at once what consumers of this
        group on this host whose process is gone left pending (the general reclaim waits
        for the idle limit, as it cannot tell a dead consumer from a slow one).

        Each message is tried once here: one that fails again stays pending and is retried
        by `reclaim`, once idle for `reclaim_idle_ms`, like any other. (Reading this
        consumer's pending messages from id 0 until none were left retried a failing one
        at once, over and over: a passing fault, a deadlock or a failover, used up its
        max_deliveries within milliseconds and the message was parked.)

        Once `stop` is set it takes no further batch: what it has not read again stays
        pending under this name, what it has not taken over stays the dead consumer's."""
        handled = 0
        after = "0"  # own pending first: reading from an id replays those after it
        while True:
            response: Any = await self.redis.xreadgroup(
                self.group, self.consumer, {self.stream: after}, count=self.batch_size
            )
            messages: list[Any] = [m for _s, batch in (response or []) for m in batch]
            if not messages:
                break
            for message_id, fields in messages:
                if not fields:  # trimmed from the stream while pending: nothing to apply
                    log.error(
                        "%s/%s: pending %r was trimmed from %s before it was applied",
                        self.group,
                        self.consumer,
                        message_id,
                        self.stream,
                    )
                    await self.redis.xack(self.stream, self.group, message_id)
            handled += await self._handle_all([(m, f) for m, f in messages if f])
            after = _text(messages[-1][0])
            if stop is not None and stop.is_set():
                return handled
        for info in await self.redis.xinfo_consumers(self.stream, self.group):
            name = _text(info["name"])
            if name == self.consumer or not info["pending"] or not _gone_from_this_host(name):
                continue
            while pending := await self.redis.xpending_range(
                self.stream, self.group, min="-", max="+", count=self.batch_size, consumername=name
            ):
                if stop is not None and stop.is_set():
                    return handled  # the rest stays the dead consumer's (not deleted)
                claimed: list[Any] = await self.redis.xclaim(
                    self.stream,
                    self.group,
                    self.consumer,
                    min_idle_time=0,
                    message_ids=[p["message_id"] for p in pending],
                )
                handled += await self._handle_all([(m, f) for m, f in claimed if f])
            await self.redis.xgroup_delconsumer(self.stream, self.group, name)
            log.info("took over what %s left pending on %s", name, self.stream)
        return handled

    async def consume_once(self, block_ms: int = 1000) -> int:
        """Reads one batch of new messages (waiting up to `block_ms` for one) and handles
        all of it (`_handle_all`); returns how many it handled."""
        response = await self.redis.xreadgroup(
            self.group, self.consumer, {self.stream: ">"}, count=self.batch_size, block=block_ms
        )
        streams: list[Any] = list(response or [])
        return await self._handle_all([m for _stream, batch in streams for m in batch])

    async def _handle_all(self, messages: list[tuple[bytes, Mapping[bytes, bytes]]]) -> int:
        """Handles a batch in hand, in order, to its end: a stop does not cut it short, as
        what is left of it would stay pending under this consumer's name and be applied by
        another replica only after the events that follow it, once idle for
        `reclaim_idle_ms` (a new pod has a new name: `recover` does not find it). Cancelled
        (the last resort of a stop that outlasted the shutdown grace), it gives back what it
        had not finished (`_release`) and ends."""
        handled = 0
        try:
            for message_id, fields in messages:
                await self._handle_or_park(message_id, fields)
                handled += 1
        except Away:
            await self._untried([message_id for message_id, _f in messages[handled:]])
            raise
        except asyncio.CancelledError:
            await self._release([message_id for message_id, _f in messages[handled:]])
            raise
        return handled

    async def _untried(self, message_ids: list[Any]) -> None:
        """Messages of a batch that the database being away kept from being applied (the
        one that met it, and those after it): their delivery is not counted. Each try
        during an outage (this consumer's again, another replica's reclaim) would bring
        them closer to being parked at their first failure of their own once it is over.
        XCLAIM JUSTID sets the count without counting the claim."""
        wanted = {_text(m) for m in message_ids}
        if not wanted:
            return
        pending = await self.redis.xpending_range(
            self.stream,
            self.group,
            min=_text(message_ids[0]),
            max=_text(message_ids[-1]),
            count=len(wanted) + self.batch_size,
            consumername=self.consumer,
        )
        by_count: dict[int, list[Any]] = {}
        for entry in pending:
            times = int(entry["times_delivered"])
            if _text(entry["message_id"]) in wanted and times > 1:
                by_count.setdefault(times - 1, []).append(entry["message_id"])
        for count, ids in by_count.items():
            await self.redis.xclaim(
                self.stream,
                self.group,
                self.consumer,
                min_idle_time=0,
                message_ids=ids,
                retrycount=count,
                justid=True,
            )

    async def _release(self, message_ids: list[Any]) -> None:
        """Makes messages this consumer took and will not finish claimable at once by any
        replica's next `reclaim` (within its `reclaim_every`), not only after
        `reclaim_idle_ms`: XCLAIM to itself with their idle time set to that limit, JUSTID
        (not counted as a delivery). A message whose transaction had committed is deduped
        where it is applied again. Tried for RELEASE_SECONDS at most: a Redis that does
        not answer leaves them pending, reclaimed after the idle limit as ever."""
        if not message_ids:
            return
        try:
            await asyncio.wait_for(
                self.redis.xclaim(
                    self.stream,
                    self.group,
                    self.consumer,
                    min_idle_time=0,
                    message_ids=message_ids,
                    idle=self.reclaim_idle_ms,
                    justid=True,
                ),
                timeout=RELEASE_SECONDS,
            )
        except Exception as error:
            log.warning(
                "%s/%s stopped with %d messages of %s unfinished and could not release them "
                "(%r): another consumer takes them once idle for %d ms",
                self.group,
                self.consumer,
                len(message_ids),
                self.stream,
                error,
                self.reclaim_idle_ms,
            )
            return
        log.warning(
            "%s/%s stopped with %d messages of %s unfinished; released to the next reclaim",
            self.group,
            self.consumer,
            len(message_ids),
            self.stream,
        )

    async def _handle_or_park(self, message_id: bytes, fields: Mapping[bytes, bytes]) -> None:
        """Handles one message; one that keeps failing is parked on the dead-letter stream
        after max_deliveries, so it cannot hold up the messages behind it. A failure because
        the database is away is no fault of the message: it raises `Away`, and
        the message stays pending, never parked for it (an outage of a few minutes parked
        every message read during it)."""
        try:
            await self._handle(message_id, fields)
        except Exception as error:
            metrics.CONSUMED.labels(self.group, "failed").inc()
            # Only the database away: a backend's failure (DEADLINE_EXCEEDED,
            # RESOURCE_EXHAUSTED) may be the message's own every time, and a message that
            # always failed so would hold up the stream for good instead of being parked.
            if unavailable(error):
                raise Away(f"{message_id!r} on {self.stream}: {error}") from error
            pending = await self.redis.xpending_range(
                self.stream, self.group, min=message_id, max=message_id, count=1
            )
            deliveries = int(pending[0]["times_delivered"]) if pending else 1
            log.exception(
                "%s/%s failed on %r (delivery %d of %d)",
                self.group,
                self.consumer,
                message_id,
                deliveries,
                self.max_deliveries,
            )
            if deliveries >= self.max_deliveries:
                parked: dict[Any, Any] = dict(fields)
                parked.update({b"group": self.group.encode(), b"message_id": message_id})
                await self.redis.xadd(self.dead_letter_stream, parked)
                await self.redis.xack(self.stream, self.group, message_id)
                metrics.CONSUMED.labels(self.group, "parked").inc()
                log.error("parked %r on %s", message_id, self.dead_letter_stream)

    async def _handle(self, message_id: bytes, fields: Mapping[bytes, bytes]) -> None:
        raw = fields.get(b"envelope")
        if raw is None:
            log.warning("message %r on %s has no envelope; acknowledging", message_id, self.stream)
            await self.redis.xack(self.stream, self.group, message_id)
            return
        envelope = envelope_pb2.Envelope.FromString(raw)
        with telemetry.span_from_event(
            f"consume {envelope.type}",
            envelope.trace_context,
            **{
                "messaging.destination": self.stream,
                "credit.event_id": envelope.event_id,
                "credit.consumer_group": self.group,
            },
        ):
            await self._apply(message_id, envelope)

    async def replay_parked(self, stop: asyncio.Event | None = None, *, quiet: bool = False) -> int:
        """Applies again what this group parked (a handler kept failing: an outage, or a
        fault since fixed): each event applied now leaves the dead-letter stream, one that
        still fails stays there, and the log says which. Run at start, so that a restart
        after the cause is gone loses nothing; returns how many were applied. Once `stop`
        is set it takes no further batch (the rest stays parked, for the next start).
        `quiet` (the replays while running): one line for those that still fail, not each
        one's traceback every time."""
        applied, failing, start = 0, 0, "-"
        while stop is None or not stop.is_set():
            entries: list[Any] = list(
                await self.redis.xrange(
                    self.dead_letter_stream, min=start, count=self.batch_size + 1
                )
                or []
            )
            if entries and start != "-" and entries[0][0] == start.encode():
                entries = entries[1:]  # the last of the batch before
            if not entries:
                break
            for entry_id, fields in entries:
                if fields.get(b"group") != self.group.encode() or b"envelope" not in fields:
                    continue
                envelope = envelope_pb2.Envelope.FromString(fields[b"envelope"])
                try:
                    await self._apply_once(envelope)
                except Exception as error:
                    if unavailable(error):  # no use trying the others now
                        log.warning(
                            "the database is away: %s stays parked", self.dead_letter_stream
                        )
                        return applied
                    failing += 1
                    if not quiet:
                        log.exception(
                            "parked %r on %s still fails", entry_id, self.dead_letter_stream
                        )
                    continue
                await self.redis.xdel(self.dead_letter_stream, entry_id)
                applied += 1
            start = _text(entries[-1][0])
        if applied:
            log.info("applied %d parked events of %s", applied, self.dead_letter_stream)
        if failing and quiet:
            log.warning(
                "%d parked events of group %s on %s still fail (replay-parked shows why)",
                failing,
                self.group,
                self.dead_letter_stream,
            )
        return applied

    async def parked(self) -> int:
        """How many events of this group wait on the dead-letter stream."""
        count, start = 0, "-"
        while True:
            entries: list[Any] = list(
                await self.redis.xrange(self.dead_letter_stream, min=start, count=1000) or []
            )
            if start != "-":
                entries = entries[1:]  # the last of the batch before
            if not entries:
                return count
            count += sum(
                1 for _id, fields in entries if fields.get(b"group") == self.group.encode()
            )
            start = _text(entries[-1][0])

    async def _apply(self, message_id: bytes, envelope: envelope_pb2.Envelope) -> None:
        await self._apply_once(envelope)
        await self.redis.xack(self.stream, self.group, message_id)

    async def _apply_once(self, envelope: envelope_pb2.Envelope) -> None:
        """The event's handler and its processed mark, in one transaction: once only."""
        handler = self.handlers.get(envelope.type)
        async with self.db.transaction() as conn:
            # RETURNING, not rowcount: SQLAlchemy does not keep an INSERT's rowcount, and the
            # -1 that psycopg's closed cursor reports is truthy, so every redelivery re-ran.
            first_time = (
                await conn.execute(
                    insert_ignore(self.processed, self.db.dialect)
                    .values(
                        consumer_group=self.group,
                        event_id=uuid.UUID(envelope.event_id),
                        processed_at=utcnow(),
                    )
                    .returning(self.processed.c.event_id)
                )
            ).first() is not None
            if first_time and handler is not None:
                await handler(conn, envelope)
        metrics.CONSUMED.labels(self.group, "applied" if first_time else "duplicate").inc()

    async def run(
        self,
        stop: asyncio.Event,
        *,
        reclaim_every: float = 5.0,
    ) -> None:
        """Consumes until `stop`. Redis being away (at start or later) is waited out; a
        group that is gone (Redis restarted without its data) is created again, from the
        start of the stream, and the events already applied are skipped. The database away
        (`Away`) is waited out too, reading nothing new, and then this consumer's own
        pending messages go first. What the group parked is applied again every
        REPLAY_PARKED_EVERY seconds, as at each start.

        Stopping (SIGTERM sets `stop` at once, see grpc_server.serve_until_stopped): it
        reads no new batch, finishes the batch in hand (read, reclaimed or recovered:
        `_handle_all`), acknowledging each message, and returns, leaving nothing pending
        under its name but the messages that failed (retried by another replica after the
        idle limit, as ever). A read under way is let finish (it blocks READ_BLOCK_MS at
        most) and what it returned is handled: a read cut off after Redis delivered would
        leave its batch pending, unknown to this consumer."""
        loop = asyncio.get_running_loop()
        next_reclaim = 0.0
        next_replay = loop.time() + REPLAY_PARKED_EVERY
        group_ready = False
        recovered = True  # this consumer's own pending messages handled since an outage
        while not stop.is_set():
            try:
                if not group_ready:
                    await self.ensure_group()
                    await self.recover(stop)
                    await self.replay_parked(stop)
                    group_ready = recovered = True
                    continue  # a stop meanwhile: no read
                if not recovered:
                    await self.recover(stop)
                    recovered = True
                    continue
                if loop.time() >= next_reclaim:
                    await self.reclaim()
                    next_reclaim = loop.time() + reclaim_every
                    if stop.is_set():
                        break
                if loop.time() >= next_replay:
                    # What was parked for a fault since mended goes through without a
                    # restart (each start replays too).
                    await self.replay_parked(stop, quiet=True)
                    next_replay = loop.time() + REPLAY_PARKED_EVERY
                await self.consume_once(block_ms=READ_BLOCK_MS)
            except Away as away:
                # No new batch until it answers: then this consumer's own pending messages
                # first (`recover`, as at a start), in their order, before any new one.
                log.warning(
                    "consumer %s/%s: the database is away (%s); trying again in %.0f s",
                    self.group,
                    self.consumer,
                    away,
                    AWAY_WAIT_SECONDS,
                )
                recovered = False
                await _wait(stop, AWAY_WAIT_SECONDS)
            except ResponseError as error:
                if "NOGROUP" in str(error):
                    log.warning(
                        "group %s on %s is gone (Redis lost its data?); creating it again",
                        self.group,
                        self.stream,
                    )
                    group_ready = False
                    continue
                log.exception("consumer %s/%s failed; retrying", self.group, self.consumer)
                await _wait(stop, 1.0)
            except Exception:
                log.exception("consumer %s/%s failed; retrying", self.group, self.consumer)
                await _wait(stop, 1.0)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    """Waits `seconds`, or less if `stop` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
