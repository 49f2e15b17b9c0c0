"""The credit report: the subject, its records by category, its list entries and
measures, its open objections, composed from the services at once."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated, Any, Protocol, TypeVar

import orjson
from fastapi import APIRouter, Path, Query, Response
from pydantic import TypeAdapter

from credit.lists.v1 import lists_pb2 as lst
from credit.objections.v1 import objections_pb2 as ob
from credit.records.v1 import records_pb2 as rec
from credit_gateway.adapters.public_cache import Hit
from credit_gateway.domain.access import Level
from credit_gateway.entrypoints import caching, schemas, views
from credit_gateway.entrypoints.deps import GatewayDep, ReadDep, audit, level_for_subject
from credit_gateway.entrypoints.objection_views import PUBLIC_OBJECTION_FIELDS, objection_view
from credit_gateway.entrypoints.problems import Problem
from credit_gateway.entrypoints.record_views import (
    LEVEL_TO_PB,
    publicity_ends,
    record_item,
    shown_code,
    shows_identity,
)
from credit_gateway.entrypoints.responses import model_json, unstored
from credit_gateway.entrypoints.routes.lists import entry_view, triggered_view

router = APIRouter(tags=["reports"])
_INSTANT = TypeAdapter(dt.datetime)
# The records and objections services' largest page: one call for most subjects.
_PAGE_SIZE = 500


class _PageRequest(Protocol):
    page_token: str


class _Page(Protocol):
    next_page_token: str


_Request = TypeVar("_Request", bound=_PageRequest)
_Reply = TypeVar("_Reply", bound=_Page)
_Item = TypeVar("_Item")


async def _every_page(
    fetch: Callable[[_Request], Awaitable[_Reply]],
    request: _Request,
    items: Callable[[_Reply], Iterable[_Item]],
    key: Callable[[_Item], str],
) -> list[_Item]:
    """Gets the items of every page, asking for the next while a page names one. Pages
    are offsets, each read at its own moment: an item that moved onto the next page
    meanwhile (a record submitted between the reads) is shown once."""
    found: dict[str, _Item] = {}
    while True:
        page = await fetch(request)
        for item in items(page):
            found.setdefault(key(item), item)
        if not page.next_page_token:
            return list(found.values())
        request.page_token = page.next_page_token


def _issued(sections: bytes, identity_shown: bool = False) -> Response:
    """A report from its sections (a JSON object without the two fields of its own); one
    that shows a natural person's identity number in full is marked no-store."""
    head = b'{"report_id":"%s","generated_at":%s' % (
        str(uuid.uuid4()).encode(),
        _INSTANT.dump_json(dt.datetime.now(dt.UTC)),
    )
    issued = caching.json_response(head + (b"," + sections[1:] if sections != b"{}" else b"}"))
    unstored(issued, identity_shown)
    return issued


@router.get(
    "/v1/subjects/{code}/report",
    response_model=schemas.CreditReport,
    responses={503: {"description": "service_unavailable: a section's service did not answer"}},
)
async def report(
    code: Annotated[str, Path(min_length=1, max_length=32)],
    read: ReadDep,
    gateway: GatewayDep,
    as_of: Annotated[
        schemas.Instant | None, Query(description="RFC 3339: the records as they stood then")
    ] = None,
) -> Response:
    """Every section comes from its service, asked concurrently, each call with its
    deadline; a service that does not answer is a 503 naming it, never a report that
    silently lacks a section. Open objections show, at the public level, that they are
    there, about what and where they stand; their reason, evidence, filer, findings and
    notes from the shared level up."""
    if as_of is not None and as_of.tzinfo is None:
        raise Problem(
            422,
            "validation_failed",
            "as_of needs a time zone offset",
            [{"field": "as_of", "message": "RFC 3339 with offset"}],
        )
    key = caching.public_key(gateway, read, "report", code) if as_of is None else None
    found = await caching.cached(gateway, read, key, "report")
    if isinstance(found, Hit):
        return _issued(found.body)
    subject = await gateway.registry.get(code)
    level = level_for_subject(subject, read)
    records_request = rec.ListSubjectRecordsRequest(
        subject_id=subject.subject_id, level=LEVEL_TO_PB[level], page_size=_PAGE_SIZE
    )
    if as_of is not None:
        records_request.as_of.FromDatetime(as_of.astimezone(dt.UTC))
    objections_request = ob.ListObjectionsRequest(
        state="open", subject_id=subject.subject_id, page_size=_PAGE_SIZE
    )
    records, status, objections = await asyncio.gather(
        _every_page(
            gateway.records.for_subject,
            records_request,
            lambda r: r.records,
            lambda record: record.record_id,
        ),
        gateway.lists.status(subject.subject_id, include_past=level > Level.PUBLIC),
        _every_page(
            gateway.objections.search,
            objections_request,
            lambda r: r.objections,
            lambda objection: objection.objection_id,
        ),
    )
    audit(gateway, read, [subject.subject_key], "report", level)
    shown = shown_code(subject, level)
    by_category: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_category.setdefault(record.category, []).append(record_item(record, shown, level))
    status_view = schemas.SubjectLists(
        code=shown,
        restricted=status.restricted,
        rewarded=status.rewarded,
        entries=[entry_view(e, subject, level) for e in status.entries],
        measures=[triggered_view(t) for t in status.measures],
        level=level.label,
    )
    open_objections = [
        objection_view(o, shown, level) for o in about_shown(objections, records, status.entries)
    ]
    sections = report_sections(
        level,
        as_of,
        views.subject_view(subject, level),
        by_category,
        status_view,
        open_objections,
    )
    fresh_until = caching.changes_by_time(
        publicity_ends(records), status_view.entries, open_objections
    )
    caching.keep(gateway, key, found, subject, sections, fresh_until)
    return _issued(sections, shows_identity(subject, level))


def about_shown(
    objections: Iterable[ob.Objection],
    records: Iterable[rec.Record],
    entries: Iterable[lst.Entry],
) -> list[ob.Objection]:
    """The objections whose target the report shows. One about a record or an entry the
    level does not see would show it all the same (a correction's fields, the source's
    note, the reason), so it is left out, as its target is: the mark `under_objection`
    is shown on whatever the level shows, and nothing of what it does not."""
    shown = {("record", r.record_id) for r in records}
    shown |= {("list_entry", e.entry_id) for e in entries}
    return [o for o in objections if (o.target.kind, o.target.id) in shown]


def report_sections(
    level: Level,
    as_of: dt.datetime | None,
    subject: schemas.SubjectPublic,
    records_by_category: dict[str, list[dict[str, Any]]],
    lists: schemas.SubjectLists,
    open_objections: list[schemas.ObjectionPublic],
) -> bytes:
    """A `schemas.CreditReport` as JSON, without its own id and time: the records (most of
    a report) as `record_item` values, not a model each; the bytes are those the report's
    model writes (a test holds them alike). At the public level an open objection shows
    only `PUBLIC_OBJECTION_FIELDS`."""
    shown = None if level > Level.PUBLIC else set(PUBLIC_OBJECTION_FIELDS)
    return model_json(
        {
            "level": level.label,
            "as_of": as_of,
            "subject": orjson.Fragment(subject.model_dump_json()),
            "records_by_category": records_by_category,
            "lists": orjson.Fragment(lists.model_dump_json()),
            "open_objections": [
                orjson.Fragment(o.model_dump_json(include=shown)) for o in open_objections
            ],
        }
    )
