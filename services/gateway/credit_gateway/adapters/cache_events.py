"""Drops public cache entries as the services' events arrive.

Every replica reads every event stream itself (plain XREAD, no consumer group): dropping
is idempotent, and no replica's death can leave an event pending. What happened before a
replica started cannot be known, so each start drops the whole cache first, after noting
where the streams end; after a failure the listener resumes from where it stopped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from google.protobuf import symbol_database
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from redis.asyncio import Redis

# Imported so that their messages are known to the symbol database.
from credit.events.v1 import (  # noqa: F401
    envelope_pb2,
    lists_pb2,
    objections_pb2,
    records_pb2,
    subject_pb2,
)
from credit_common.relay import stream_name
from credit_gateway.adapters.public_cache import LISTINGS, PublicCache

log = logging.getLogger(__name__)

PRODUCERS = ("registry", "records", "lists", "objections")
STREAMS = tuple(stream_name(p) for p in PRODUCERS)
_ID_FIELDS = frozenset({"subject_id", "survivor_id", "subject_ids"})


class UnknownPayload(Exception):
    pass


def subject_ids(envelope: envelope_pb2.Envelope) -> set[str]:
    """The ids of the subjects an event is about: every `subject_id`, `survivor_id` and
    `subject_ids` in its payload, at any depth (a bulk chunk names many)."""
    type_name = envelope.payload.TypeName()
    try:
        cls: Any = symbol_database.Default().GetSymbol(type_name)
    except KeyError as error:
        raise UnknownPayload(type_name) from error
    payload: Message = cls()
    envelope.payload.Unpack(payload)
    found: set[str] = set()
    _collect(payload, _paths(payload.DESCRIPTOR), found)
    found.discard("")
    return found


# How to reach a message's subject ids: (field name, what the field is) for each id field
# and each of our message fields that leads to one. Worked out once per message type, so
# a chunk of 1,000 record summaries is read field by field, not listed 1,000 times.
_ID, _IDS, _MESSAGE, _MESSAGES = range(4)
_Paths = tuple[tuple[str, int, Any], ...]
_known_paths: dict[str, _Paths] = {}


def _collect(message: Message, paths: _Paths, found: set[str]) -> None:
    for name, kind, inner in paths:
        if kind == _ID:
            found.add(getattr(message, name))
        elif kind == _IDS:
            found.update(getattr(message, name))
        elif kind == _MESSAGE:
            if message.HasField(name):
                _collect(getattr(message, name), inner, found)
        else:
            for item in getattr(message, name):
                _collect(item, inner, found)


def _paths(descriptor: Any, seen: frozenset[str] = frozenset()) -> _Paths:
    known = _known_paths.get(descriptor.full_name)
    if known is not None:
        return known
    paths: list[tuple[str, int, Any]] = []
    for field in descriptor.fields:
        repeated = field.is_repeated
        if field.name in _ID_FIELDS and field.type == FieldDescriptor.TYPE_STRING:
            paths.append((field.name, _IDS if repeated else _ID, None))
        elif field.type == FieldDescriptor.TYPE_MESSAGE and _ours(field):
            inner: Any = field.message_type
            if inner.full_name in seen:  # a recursive message: ids below it are not looked for
                continue
            below = _paths(inner, seen | {descriptor.full_name})
            if below:
                paths.append((field.name, _MESSAGES if repeated else _MESSAGE, below))
    found = tuple(paths)
    if not seen:
        _known_paths[descriptor.full_name] = found
    return found


def _ours(field: FieldDescriptor) -> bool:
    kind = field.message_type
    return kind is not None and kind.full_name.startswith("credit.")


class CacheInvalidator:
    def __init__(
        self,
        redis: Redis,
        cache: PublicCache,
        *,
        streams: Sequence[str] = STREAMS,
        batch_size: int = 1000,
    ) -> None:
        self.redis = redis
        self.cache = cache
        self.streams = list(streams)
        self.batch_size = batch_size

    async def begin(self) -> dict[str, str]:
        """Notes where the streams end, then drops the whole cache: whatever happened
        before is either in the dropped entries or after these positions."""
        ends: dict[str, str] = {}
        for stream in self.streams:
            last: Any = await self.redis.xrevrange(stream, count=1)
            ends[stream] = last[0][0].decode() if last else "0-0"
        await self.cache.invalidate_all()
        self.cache.following = True
        return ends

    async def apply(self, messages: list[tuple[bytes, dict[bytes, bytes]]]) -> int:
        """Drops the subjects these stream messages are about; returns how many."""
        ids: set[str] = set()
        for message_id, fields in messages:
            raw = fields.get(b"envelope")
            if raw is None:
                continue
            envelope = envelope_pb2.Envelope.FromString(raw)
            if envelope.type.startswith(("entry.", "subject.")):
                ids.add(LISTINGS)
            try:
                ids |= subject_ids(envelope)
            except UnknownPayload:
                log.warning(
                    "event %s (%r) has a payload this gateway does not know; dropping the "
                    "whole public cache",
                    envelope.type,
                    message_id,
                )
                await self.cache.invalidate_all()
        if ids:
            await self.cache.invalidate(ids)
        return len(ids)

    async def run(
        self,
        stop: asyncio.Event,
        positions: dict[str, str] | None = None,
        *,
        block_ms: int = 200,
    ) -> None:
        """Follows the streams from `positions` (from `begin`; begun here when None)."""
        try:
            await self._follow(stop, positions, block_ms)
        finally:
            self.cache.following = False

    async def _follow(
        self, stop: asyncio.Event, positions: dict[str, str] | None, block_ms: int
    ) -> None:
        """After a failure (Redis away, a read timing out) the cache answers nothing until
        the listener has read again from where it stopped, up to the streams' ends: the
        events in between are in the streams, so nothing needs dropping wholesale."""
        while not stop.is_set():
            try:
                if positions is None:
                    positions = await self.begin()
                while not stop.is_set():
                    response: Any = await self.redis.xread(
                        dict(positions.items()), count=self.batch_size, block=block_ms
                    )
                    behind = False
                    for stream, messages in response or []:
                        if messages:
                            await self.apply(messages)
                            positions[stream.decode()] = messages[-1][0].decode()
                            behind = behind or len(messages) >= self.batch_size
                    if not behind:
                        self.cache.following = True
            except Exception:
                self.cache.following = False
                log.warning("public cache: event listener failed; resuming", exc_info=True)
                await asyncio.sleep(1.0)
