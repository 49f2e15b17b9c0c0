"""Answers at the public level, kept in the public cache (adapters/public_cache.py).

Only what anyone would be shown is kept: reads served at the public level, without a
grant, by callers that are not a subject themselves (a subject's own client sees itself at
the restricted level), of the present (no `as_of`). Natural persons' answers are not kept,
so no identity number needs hashing into a key that someone could guess back. A hit is
audited like a miss."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from fastapi import Response
from pydantic import BaseModel

from credit.registry.v1 import registry_pb2 as pb
from credit_common.timeutil import CHINA
from credit_gateway.adapters.public_cache import LISTINGS, Hit, Miss
from credit_gateway.bootstrap import Gateway
from credit_gateway.domain.access import Level
from credit_gateway.entrypoints import schemas
from credit_gateway.entrypoints.deps import ReadContext, audit

log = logging.getLogger(__name__)


def json_response(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def public_key(gateway: Gateway, read: ReadContext, route: str, *parts: str) -> str | None:
    """The cache key of a read anyone at the public level would be given the same answer
    to, or None when this read is not such a one (or there is no cache)."""
    if (
        gateway.cache is None
        or read.level != Level.PUBLIC
        or read.grant is not None
        or read.caller.subject_code
    ):
        return None
    return gateway.cache.key(route, *parts)


async def cached(
    gateway: Gateway, read: ReadContext, key: str | None, what: str | None
) -> Hit | Miss | None:
    """The kept answer (audited as `what`), a miss to store under, or None (not cacheable)."""
    if key is None or gateway.cache is None:
        return None
    found = await gateway.cache.lookup(key)
    if isinstance(found, Hit) and what is not None:
        audit(gateway, read, [found.subject_key], what, Level.PUBLIC)
    return found


def keep(
    gateway: Gateway,
    key: str | None,
    found: Hit | Miss | None,
    subject: pb.Subject | None,
    body: bytes,
    fresh_until: dt.datetime | None = None,
) -> None:
    """Keeps an answer about `subject` (None: a public listing of list entries, of many
    subjects, dropped by any entry or subject event under the LISTINGS generation), while
    the answer goes out."""
    if key is None or gateway.cache is None or not isinstance(found, Miss):
        return
    if subject is None:
        gateway.cache.store_soon(key, found, LISTINGS, "", body, fresh_until=fresh_until)
    elif subject.kind != pb.SUBJECT_KIND_NATURAL_PERSON:
        gateway.cache.store_soon(
            key, found, subject.subject_id, subject.subject_key, body, fresh_until=fresh_until
        )


async def answer(
    gateway: Gateway,
    key: str | None,
    found: Hit | Miss | None,
    subject: pb.Subject | None,
    view: BaseModel,
    fresh_until: dt.datetime | None = None,
) -> Any:
    """What a cacheable route returns: the view as it is when the read is not cacheable,
    else its JSON, kept (see `keep`)."""
    if key is None:
        return view
    body = view.model_dump_json().encode()
    keep(gateway, key, found, subject, body, fresh_until)
    return json_response(body)


async def drop(gateway: Gateway, *subject_ids: str) -> None:
    """After this gateway changed something of a subject: its writer reads it back at once
    (the event that follows drops the entries again, for changes made elsewhere)."""
    if gateway.cache is not None:
        try:
            await gateway.cache.invalidate(subject_ids)
        except Exception:
            log.warning("public cache: could not drop a subject; its event will", exc_info=True)


async def drop_all(gateway: Gateway) -> None:
    """After a catalog item, list type or measure changed: what anything shows may have."""
    if gateway.cache is not None:
        try:
            await gateway.cache.invalidate_all()
        except Exception:
            log.error(
                "public cache: could not drop it; entries end within their ttl", exc_info=True
            )


def changes_by_time(
    publicity_ends: Iterable[dt.date] = (),
    entries: Iterable[schemas.EntryPublic] = (),
    objections: Iterable[schemas.ObjectionPublic] = (),
) -> dt.datetime | None:
    """The first moment at which what the public level shows of these would change with no
    event: a record's publicity window closing (`publicity_ends`: the last days of the
    records' windows), an entry's publicity or validity ending, an open objection's step
    falling overdue."""
    now = dt.datetime.now(dt.UTC)
    moments: list[dt.datetime] = []
    for last_day in publicity_ends:  # public through its last day, China time
        if last_day >= dt.date.max:  # public for good (a licence valid until 9999-12-31)
            continue
        moments.append(
            dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(), tzinfo=CHINA)
        )
    for entry in entries:
        for moment in (entry.publicity_until, entry.valid_until):
            if moment is not None and moment > now:
                moments.append(moment)
    for objection in objections:
        if objection.due_at is not None and objection.due_at > now:
            moments.append(objection.due_at)
    return min(moments, default=None)
