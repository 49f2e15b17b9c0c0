"""The gateway's public cache on a real Redis: what it keeps, what it refuses to keep, and
how the services' events drop it (credit_gateway.adapters.public_cache, cache_events)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from credit.events.v1 import lists_pb2, objections_pb2, records_pb2, subject_pb2
from credit_common.outbox import Event, envelope_for
from credit_gateway.adapters.cache_events import CacheInvalidator, subject_ids
from credit_gateway.adapters.public_cache import MAX_PENDING_STORES, Hit, Miss, PublicCache
from support.redis_server import RedisServer


@pytest.fixture
async def cache(redis: Redis) -> AsyncIterator[PublicCache]:
    kept = PublicCache(redis, ttl_seconds=60, prefix=f"test:cache:{uuid.uuid4().hex}")
    kept.following = True
    yield kept


async def test_an_answer_is_kept_and_served_until_its_subject_changes(cache: PublicCache) -> None:
    key, subject = cache.key("report", "91310000MA1FL8L972"), str(uuid.uuid4())
    miss = await cache.lookup(key)
    assert isinstance(miss, Miss) and miss.stamp is not None
    assert await cache.store(key, miss, subject, "91310000MA1FL8L972", b'{"a":"\\n1"}')
    assert await cache.lookup(key) == Hit("91310000MA1FL8L972", b'{"a":"\\n1"}')
    await cache.invalidate([str(uuid.uuid4())])  # another subject: still kept
    assert isinstance(await cache.lookup(key), Hit)
    await cache.invalidate([subject])
    assert isinstance(await cache.lookup(key), Miss)


async def test_a_store_under_way_is_waited_for_and_still_refused_after_a_change(
    cache: PublicCache,
) -> None:
    """store_soon returns at once (the answer goes out); drain waits for the stores, and a
    store begun before a change is refused by its stamp like any other."""
    kept, stale, subject = cache.key("s", "1"), cache.key("s", "2"), str(uuid.uuid4())
    first, second = await cache.lookup(kept), await cache.lookup(stale)
    assert isinstance(first, Miss) and isinstance(second, Miss)
    cache.store_soon(kept, first, str(uuid.uuid4()), "K", b"kept")
    await cache.invalidate([subject])
    cache.store_soon(stale, second, subject, "S", b"stale")
    await cache.drain()
    assert await cache.lookup(kept) == Hit("K", b"kept")
    assert isinstance(await cache.lookup(stale), Miss)


async def test_with_redis_not_answering_stores_are_bounded_and_given_up_at_shutdown(
    tmp_path: Path,
) -> None:
    """A Redis that keeps its connections but answers nothing (SIGSTOP): stores pile up to
    MAX_PENDING_STORES and no further, and draining gives the rest up after its timeout
    instead of holding the gateway's shutdown."""
    server = RedisServer(tmp_path)
    server.start()
    await server.wait_up()
    client = Redis.from_url(server.url, max_connections=2 * MAX_PENDING_STORES)
    try:
        cache = PublicCache(client, ttl_seconds=60, prefix="test:stalled")
        cache.following = True
        miss = await cache.lookup(cache.key("stalled"))
        assert isinstance(miss, Miss)
        server.pause()
        for n in range(MAX_PENDING_STORES + 50):
            cache.store_soon(cache.key("stalled", str(n)), miss, "s", "K", b"x")
        await asyncio.sleep(0.1)
        assert len(cache._storing) == MAX_PENDING_STORES
        started = time.monotonic()
        await cache.drain(grace=0.5)
        assert time.monotonic() - started < 3.0
        assert not cache._storing
    finally:
        server.resume()
        await client.aclose()
        assert server.process is not None
        server.process.terminate()
        server.process.wait(10)


async def test_an_answer_begun_before_a_change_is_not_kept(cache: PublicCache) -> None:
    """The race the stamps exist for: the backends were asked, the subject changed and its
    event was applied, then the (old) answer arrives to be stored."""
    key, subject = cache.key("lists", "X"), str(uuid.uuid4())
    before = await cache.lookup(key)
    assert isinstance(before, Miss)
    await cache.invalidate([subject])
    assert not await cache.store(key, before, subject, "X", b"old")
    assert isinstance(await cache.lookup(key), Miss)
    after = await cache.lookup(key)
    assert isinstance(after, Miss)
    assert await cache.store(key, after, subject, "X", b"new")
    assert await cache.lookup(key) == Hit("X", b"new")


async def test_dropping_everything_refuses_what_was_kept_and_what_is_in_flight(
    cache: PublicCache,
) -> None:
    kept, flying, subject = cache.key("a"), cache.key("b"), str(uuid.uuid4())
    first = await cache.lookup(kept)
    assert isinstance(first, Miss) and await cache.store(kept, first, subject, "k", b"1")
    in_flight = await cache.lookup(flying)
    assert isinstance(in_flight, Miss)
    await cache.invalidate_all()
    assert isinstance(await cache.lookup(kept), Miss)
    assert not await cache.store(flying, in_flight, subject, "k", b"2")


async def test_an_answer_is_kept_no_longer_than_it_stays_true(
    cache: PublicCache, redis: Redis
) -> None:
    key, subject = cache.key("records", "Y"), str(uuid.uuid4())
    miss = await cache.lookup(key)
    assert isinstance(miss, Miss)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    assert not await cache.store(key, miss, subject, "Y", b"b", fresh_until=past)
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    assert await cache.store(key, miss, subject, "Y", b"b", fresh_until=soon)
    assert 0 < await redis.pttl(key) <= 5_000
    assert await cache.store(key, miss, subject, "Y", b"b")
    assert 5_000 < await redis.pttl(key) <= 60_000


async def test_a_cache_nobody_follows_answers_nothing(cache: PublicCache) -> None:
    key, subject = cache.key("subject", "Z"), str(uuid.uuid4())
    miss = await cache.lookup(key)
    assert isinstance(miss, Miss) and await cache.store(key, miss, subject, "Z", b"z")
    cache.following = False
    assert await cache.lookup(key) == Miss(None)
    assert not await cache.store(key, Miss(None), subject, "Z", b"z")


def _envelope(event: Event) -> bytes:
    return envelope_for(event, "test").SerializeToString()


def test_every_event_names_its_subjects() -> None:
    a, b, c = (str(uuid.uuid4()) for _ in range(3))
    summary = records_pb2.RecordSummary
    cases = [
        (
            records_pb2.RecordsCreated(records=[summary(subject_id=a), summary(subject_id=b)]),
            {a, b},
        ),
        (records_pb2.RecordCorrected(record=summary(subject_id=a)), {a}),
        (
            records_pb2.RecordExpired(record=summary(subject_id=b), retention_until="2031-01-01"),
            {b},
        ),
        (records_pb2.RecordsMarked(subject_ids=[a, b], mark="moved"), {a, b}),
        (lists_pb2.EntryChanged(subject_id=c), {c}),
        (lists_pb2.EntriesMarked(subject_ids=[c]), {c}),
        (objections_pb2.ObjectionFiled(subject_id=a), {a}),
        (objections_pb2.RepairDecided(subject_id=b), {b}),
        (subject_pb2.SubjectMerged(subject_id=a, survivor_id=c), {a, c}),
        (subject_pb2.SubjectUpdated(subject_id=b, code="X"), {b}),
    ]
    for payload, expected in cases:
        envelope = envelope_for(Event("t", "", payload), "test")
        assert subject_ids(envelope) == expected, payload


async def test_the_listener_drops_the_subjects_of_the_events_that_arrive(
    cache: PublicCache, redis: Redis
) -> None:
    stream = f"test:stream:{uuid.uuid4().hex}"
    subject, other = str(uuid.uuid4()), str(uuid.uuid4())
    old = await redis.xadd(
        stream,
        {"envelope": _envelope(Event("x", "", subject_pb2.SubjectUpdated(subject_id=subject)))},
    )
    assert old
    listener = CacheInvalidator(redis, cache, streams=[stream])
    mine, theirs = cache.key("mine"), cache.key("theirs")
    for key, who in ((mine, subject), (theirs, other)):
        miss = await cache.lookup(key)
        assert isinstance(miss, Miss) and await cache.store(key, miss, who, "k", b"v")
    stop = asyncio.Event()
    cache.following = False
    positions = await listener.begin()  # drops everything kept before it follows
    assert cache.following
    assert isinstance(await cache.lookup(mine), Miss)
    for key, who in ((mine, subject), (theirs, other)):
        miss = await cache.lookup(key)
        assert isinstance(miss, Miss) and await cache.store(key, miss, who, "k", b"v")
    task = asyncio.create_task(listener.run(stop, positions, block_ms=50))
    # The event written before it began is not replayed: both answers stay.
    await asyncio.sleep(0.3)
    assert isinstance(await cache.lookup(mine), Hit)
    await redis.xadd(
        stream,
        {
            "envelope": _envelope(
                Event("record.marked", "", records_pb2.RecordsMarked(subject_ids=[subject]))
            )
        },
    )
    for _ in range(100):
        if isinstance(await cache.lookup(mine), Miss):
            break
        await asyncio.sleep(0.05)
    assert isinstance(await cache.lookup(mine), Miss)
    assert isinstance(await cache.lookup(theirs), Hit)
    stop.set()
    await task
    assert not cache.following


async def test_after_losing_its_connection_the_listener_reads_on_from_where_it_stopped(
    cache: PublicCache, redis: Redis
) -> None:
    """Nothing is served while it is away, the events written meanwhile are applied when
    it is back, and what they do not concern stays kept."""
    stream = f"test:stream:{uuid.uuid4().hex}"
    subject, other = str(uuid.uuid4()), str(uuid.uuid4())
    listener = CacheInvalidator(redis, cache, streams=[stream])
    positions = await listener.begin()
    mine, theirs = cache.key("mine"), cache.key("theirs")
    for key, who in ((mine, subject), (theirs, other)):
        miss = await cache.lookup(key)
        assert isinstance(miss, Miss) and await cache.store(key, miss, who, "k", b"v")
    stop = asyncio.Event()
    task = asyncio.create_task(listener.run(stop, positions, block_ms=50))
    await asyncio.sleep(0.2)
    await redis.client_kill_filter(_type="normal", skipme=True)  # the listener's XREAD too
    for _ in range(40):
        if not cache.following:
            break
        await asyncio.sleep(0.05)
    assert not cache.following  # it noticed, and answers nothing meanwhile
    assert await cache.lookup(theirs) == Miss(None)
    payload = records_pb2.RecordsMarked(subject_ids=[subject])
    await redis.xadd(stream, {"envelope": _envelope(Event("record.marked", "", payload))})
    for _ in range(100):  # back, caught up, and the event applied
        if cache.following and isinstance(await cache.lookup(mine), Miss):
            break
        await asyncio.sleep(0.05)
    assert cache.following
    assert isinstance(await cache.lookup(mine), Miss)
    assert isinstance(await cache.lookup(theirs), Hit)  # not dropped wholesale
    stop.set()
    await task
