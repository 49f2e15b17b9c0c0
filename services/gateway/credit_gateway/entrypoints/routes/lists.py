"""The lists' part of the contract: list types, measures, entries, status, the batch check."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Path, Query, Response

from credit.lists.v1 import lists_pb2 as lst
from credit.registry.v1 import registry_pb2 as pb
from credit_common.grpc_errors import RemoteError
from credit_common.masking import mask_name
from credit_common.messages import moment_of
from credit_gateway.adapters.backends import BackendUnavailable
from credit_gateway.adapters.public_cache import LISTINGS, Hit
from credit_gateway.domain.access import Caller, Level
from credit_gateway.entrypoints import caching, schemas
from credit_gateway.entrypoints.deps import (
    CallerDep,
    GatewayDep,
    ReadDep,
    audit,
    level_for_subject,
    require,
    require_any,
)
from credit_gateway.entrypoints.problems import Problem
from credit_gateway.entrypoints.record_views import (
    code_of_key,
    level_for_writer,
    shown_code,
    shown_fields,
    shows_identity,
)
from credit_gateway.entrypoints.responses import BatchJSON, unstored

router = APIRouter(tags=["lists"])
AdminDep = Annotated[Caller, require("admin")]
WriterDep = Annotated[Caller, require("lists:write")]
# The shared level's government uses (restriction checks, measure feedback): the restricted
# level sees everything the shared level does, so either scope may.
SharedDep = Annotated[Caller, require_any("credit:shared", "credit:restricted")]
EntryId = Annotated[str, Path(min_length=36, max_length=36, description="an entry id (UUID)")]
CURRENT = {"publicity", "effective"}


def _caller(caller: Caller) -> lst.Caller:
    return lst.Caller(client_id=caller.client_id, department=caller.department)


def list_type_view(t: lst.ListType) -> schemas.ListTypePublic:
    return schemas.ListTypePublic(
        list_type=t.list_type,
        name=t.name,
        color=t.color,
        authority_department=t.authority_department,
        publicity_days=t.publicity_days,
        default_duration_days=t.default_duration_days,
        max_duration_days=t.max_duration_days,
        min_duration_days=t.min_duration_days,
        min_days_before_repair=t.min_days_before_repair,
        repairable=t.repairable,
        basis=t.basis,
        version=t.version,
    )


def measure_view(m: lst.Measure) -> schemas.MeasurePublic:
    return schemas.MeasurePublic(
        measure_code=m.measure_code,
        name=m.name,
        kind=m.kind,
        implementing_department=m.implementing_department,
        list_types=list(m.list_types),
        basis=m.basis,
        version=m.version,
    )


def triggered_fields(t: lst.TriggeredMeasure) -> dict[str, str]:
    return {
        "measure_code": t.measure_code,
        "name": t.name,
        "kind": t.kind,
        "entry_id": t.entry_id,
        "list_type": t.list_type,
        "basis": t.basis,
        "implementing_department": t.implementing_department,
    }


def triggered_view(t: lst.TriggeredMeasure) -> schemas.TriggeredMeasurePublic:
    return schemas.TriggeredMeasurePublic(**triggered_fields(t))


def entry_view(
    e: lst.Entry, subject: pb.Subject | None, level: Level, *, history: bool = False
) -> schemas.EntryPublic:
    code, name = "", ""
    if subject is not None:
        code = shown_code(subject, level)
        person = subject.kind == pb.SUBJECT_KIND_NATURAL_PERSON
        name = mask_name(subject.name) if person and level == Level.PUBLIC else subject.name
    return schemas.EntryPublic(
        entry_id=e.entry_id,
        subject_code=code,
        subject_name=name,
        list_type=e.list_type,
        color=e.color,
        state=cast(Any, e.state),
        reason=shown_fields(e.reason, level),
        decision_ref=shown_fields(e.decision_ref, level),
        basis_record_ids=list(e.basis_record_ids),
        department=e.department,
        proposed_at=moment_of(e, "proposed_at"),
        publicity_until=moment_of(e, "publicity_until"),
        effective_from=moment_of(e, "effective_from"),
        valid_until=moment_of(e, "valid_until"),
        under_objection=e.under_objection,
        repairable=e.repairable,
        repair_possible_from=moment_of(e, "repair_possible_from"),
        history=[
            schemas.TransitionPublic(
                from_state=h.from_state,
                to_state=h.to_state,
                at=moment_of(h, "at"),
                actor=h.actor,
                reason=shown_fields(h.reason, level),
            )
            for h in e.history
        ]
        if history
        else None,
        level=level.label,
    )


async def subjects_of(gateway: GatewayDep, entries: list[lst.Entry]) -> dict[str, pb.Subject]:
    keys = sorted({e.subject_key for e in entries})
    if not keys:
        return {}
    reply = await gateway.registry.resolve(keys)
    return {r.requested_code: r.subject for r in reply.results if r.found}


async def _named(gateway: GatewayDep, entry: lst.Entry) -> pb.Subject | None:
    """The subject of an entry just written, or None when the registry does not answer: the
    write is done, and a 503 would make the caller's retry a second write."""
    try:
        return (await subjects_of(gateway, [entry])).get(entry.subject_key)
    except (BackendUnavailable, RemoteError):
        return None


def _as_written(
    entry: lst.Entry, subject: pb.Subject | None, caller: Caller, response: Response
) -> schemas.EntryPublic:
    """An entry just written, as its writer sees it (`level_for_writer`); a subject the
    registry did not name is shown by its key (`code_of_key`)."""
    level = Level.RESTRICTED if subject is None else level_for_writer(subject, caller)
    # The entry's own texts are the writer's, in full at any level (entry_view masks
    # identity numbers in them, and in its steps, below restricted).
    view = entry_view(entry, subject, level, history=True).model_copy(
        update={"reason": entry.reason, "decision_ref": entry.decision_ref}
    )
    if subject is None:
        return view.model_copy(update={"subject_code": code_of_key(entry.subject_key)})
    unstored(response, shows_identity(subject, level))
    return view


@router.get("/v1/list-types", response_model=schemas.ListTypeList)
async def list_types(_: CallerDep, gateway: GatewayDep) -> schemas.ListTypeList:
    """The list types (红黑名单) with their authority, publicity and duration."""
    return schemas.ListTypeList(
        items=[list_type_view(t) for t in (await gateway.lists.list_types()).list_types]
    )


@router.post("/v1/list-types", status_code=201, response_model=schemas.ListTypePublic)
async def put_list_type(
    body: schemas.ListTypeCreate, caller: AdminDep, gateway: GatewayDep
) -> schemas.ListTypePublic:
    """Adds a list type or its next version."""
    stored = await gateway.lists.put_list_type(
        lst.PutListTypeRequest(actor=caller.client_id, list_type=lst.ListType(**body.model_dump()))
    )
    await caching.drop_all(gateway)
    return list_type_view(stored)


@router.get("/v1/measures", response_model=schemas.MeasureList)
async def measures(_: CallerDep, gateway: GatewayDep) -> schemas.MeasureList:
    """The joint reward and punishment measures (联合奖惩措施清单)."""
    return schemas.MeasureList(
        items=[measure_view(m) for m in (await gateway.lists.measures()).measures]
    )


@router.post("/v1/measures", status_code=201, response_model=schemas.MeasurePublic)
async def put_measure(
    body: schemas.MeasureCreate, caller: AdminDep, gateway: GatewayDep
) -> schemas.MeasurePublic:
    stored = await gateway.lists.put_measure(
        lst.PutMeasureRequest(actor=caller.client_id, measure=lst.Measure(**body.model_dump()))
    )
    await caching.drop_all(gateway)
    return measure_view(stored)


@router.post("/v1/list-entries", status_code=201, response_model=schemas.EntryPublic)
async def propose(
    body: schemas.EntryCreate, caller: WriterDep, gateway: GatewayDep, response: Response
) -> schemas.EntryPublic:
    """Proposes an entry; only the list type's authority department may.

    The answer is the entry as stored, in full (the writer's own); its `level` says how its
    subject is shown: `public` (a natural person's name and identity number masked)
    unless the token allows `restricted`."""
    request = lst.ProposeEntryRequest(
        caller=_caller(caller),
        subject_code=body.subject_code,
        list_type=body.list_type,
        reason=body.reason,
        decision_ref=body.decision_ref,
        basis_record_ids=body.basis_record_ids,
    )
    if body.valid_until is not None:
        if body.valid_until.tzinfo is None:
            raise Problem(
                422,
                "validation_failed",
                "valid_until needs a time zone offset",
                [{"field": "valid_until", "message": "RFC 3339 with offset"}],
            )
        request.valid_until.FromDatetime(body.valid_until.astimezone(dt.UTC))
    # The subject is read first: a registry failing after the entry was stored made the
    # answer a 503, and the caller's retry stored a second entry. A code it does not know
    # is left to the lists service to refuse (422 unknown_subject, as the contract says).
    subject = await gateway.registry.find(body.subject_code)
    entry = await gateway.lists.propose(request)
    await caching.drop(gateway, entry.subject_id, LISTINGS)
    if subject is None:
        subject = await _named(gateway, entry)
    return _as_written(entry, subject, caller, response)


@router.get("/v1/list-entries", response_model=schemas.EntryPage)
async def search_entries(
    read: ReadDep,
    gateway: GatewayDep,
    response: Response,
    list_type: Annotated[str, Query(max_length=64)] = "",
    state: Literal["publicity", "effective", "expired", "removed", "withdrawn"] | None = None,
    subject_code: Annotated[str, Query(max_length=32)] = "",
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    page_token: Annotated[str, Query(max_length=200)] = "",
) -> Any:
    """Entries; the public level sees those in publicity or effective, natural persons masked.
    Above it, a natural person's entries are shown at the public level unless a purpose is
    stated (their past entries then not at all), and audited when shown above it."""
    # The public listing of a list (by type and state, not by subject) is kept; any entry
    # or subject event drops every kept listing.
    key = (
        None
        if subject_code
        else caching.public_key(
            gateway, read, "list-entries", list_type, state or "", str(page_size), page_token
        )
    )
    kept = await caching.cached(gateway, read, key, None)
    if isinstance(kept, Hit):
        return caching.json_response(kept.body)
    subject_id, named = "", None
    # A listing of one subject's entries is served at the level that subject is shown at
    # (its own client: everything, as its own status shows it).
    listing = read.level
    if subject_code:
        named = await gateway.registry.get(subject_code, summary=True)
        listing = level_for_subject(named, read)
        subject_id = named.subject_id
    public = listing == Level.PUBLIC
    if public and state is not None and state not in CURRENT:
        return schemas.EntryPage(items=[], level=listing.label)
    reply = await gateway.lists.search(
        lst.ListEntriesRequest(
            list_type=list_type,
            state=state or "",
            subject_id=subject_id,
            current_only=public,
            page_size=page_size,
            page_token=page_token,
        )
    )
    subjects = await subjects_of(gateway, list(reply.entries))
    items = []
    # A listing by subject is a query about it; one by type or state, about each person
    # it shows above the public level.
    audited = {named.subject_key: None} if named is not None else {}
    identity_shown = False
    for e in reply.entries:
        found = subjects.get(e.subject_key)
        # A subject the registry does not name is not known to be an organisation.
        person = found is None or found.kind == pb.SUBJECT_KIND_NATURAL_PERSON
        # (A listing by subject has its level from level_for_subject, which asked for the
        # purpose a person needs.)
        level = Level.PUBLIC if person and not read.purpose and named is None else listing
        if level == Level.PUBLIC and e.state not in CURRENT:
            continue  # past entries are shared-level information
        if found is not None and person and level > Level.PUBLIC and named is None:
            audited[found.subject_key] = None
        items.append(entry_view(e, found, level))
        if found is not None:
            identity_shown |= shows_identity(found, level)
    audit(gateway, read, list(audited), "list_entries", listing)
    unstored(response, identity_shown)
    page = schemas.EntryPage(
        items=items, next_page_token=reply.next_page_token or None, level=listing.label
    )
    return await caching.answer(
        gateway, key, kept, None, page, caching.changes_by_time(entries=items)
    )


@router.get("/v1/list-entries/{entry_id}", response_model=schemas.EntryPublic)
async def get_entry(
    entry_id: EntryId, read: ReadDep, gateway: GatewayDep, response: Response
) -> schemas.EntryPublic:
    """One entry with its history, audited like a record."""
    entry = await gateway.lists.get(entry_id)
    subject = (await subjects_of(gateway, [entry])).get(entry.subject_key)
    gone = Problem(404, "not_found", "no such entry")
    own = subject is not None and read.caller.is_self(subject.code)
    # Past entries are not public: to a token that reads others at the public level, one
    # of another subject's is not there, whatever level it asks for.
    if not own and read.within_token() == Level.PUBLIC and entry.state not in CURRENT:
        raise gone
    level = level_for_subject(subject, read) if subject is not None else read.within_token()
    if level == Level.PUBLIC and entry.state not in CURRENT:
        raise gone
    audit(
        gateway, read, [subject.subject_key if subject else entry.subject_key], "list_entry", level
    )
    unstored(response, subject is not None and shows_identity(subject, level))
    return entry_view(entry, subject, level, history=True)


@router.post("/v1/list-entries/{entry_id}/remove", response_model=schemas.EntryPublic)
async def remove_entry(
    entry_id: EntryId,
    body: schemas.EntryRemove,
    caller: WriterDep,
    gateway: GatewayDep,
    response: Response,
) -> schemas.EntryPublic:
    """Removes an effective entry, or withdraws one listed in error (the authority only).

    The answer is the entry as stored, in full (the writer's own); its `level` says how its
    subject is shown: `public` (a natural person's name and identity number masked)
    unless the token allows `restricted`."""
    entry = await gateway.lists.remove(
        lst.RemoveEntryRequest(
            caller=_caller(caller), entry_id=entry_id, reason=body.reason, withdraw=body.withdraw
        )
    )
    await caching.drop(gateway, entry.subject_id, LISTINGS)
    return _as_written(entry, await _named(gateway, entry), caller, response)


@router.get("/v1/subjects/{code}/lists", response_model=schemas.SubjectLists)
async def subject_lists(
    code: Annotated[str, Path(min_length=1, max_length=32)],
    read: ReadDep,
    gateway: GatewayDep,
    response: Response,
) -> Any:
    """A subject's current entries and the measures they trigger (past ones too from shared
    up); a natural person's at the restricted level is marked no-store."""
    key = caching.public_key(gateway, read, "lists", code)
    found = await caching.cached(gateway, read, key, "lists")
    if isinstance(found, Hit):
        return caching.json_response(found.body)
    subject = await gateway.registry.get(code, summary=True)
    level = level_for_subject(subject, read)
    status = await gateway.lists.status(subject.subject_id, include_past=level > Level.PUBLIC)
    audit(gateway, read, [subject.subject_key], "lists", level)
    unstored(response, shows_identity(subject, level))
    view = schemas.SubjectLists(
        code=shown_code(subject, level),
        restricted=status.restricted,
        rewarded=status.rewarded,
        entries=[entry_view(e, subject, level) for e in status.entries],
        measures=[triggered_view(t) for t in status.measures],
        level=level.label,
    )
    return await caching.answer(
        gateway, key, found, subject, view, caching.changes_by_time(entries=view.entries)
    )


_IDENTITY_NUMBER = re.compile(r"^(\d{17}[\dX]|\d{15})$")


def _person_shaped(code: str) -> bool:
    """Whether a code has the shape of a citizen identity number (18 characters, the last
    a digit or X; or the old 15 digits), as the registry would read it."""
    return bool(_IDENTITY_NUMBER.match(code.strip().upper()))


@router.post(
    "/v1/restrictions/check",
    response_model=schemas.RestrictionResults,
    response_model_exclude_none=True,
)
async def check(
    body: schemas.RestrictionCheck, read: ReadDep, caller: SharedDep, gateway: GatewayDep
) -> Any:
    """Up to 10,000 codes: for each, restricted or rewarded, by which measures, from which
    entries. Unknown codes are reported per code; a natural person needs a stated purpose,
    and so, that the answers tell no one which identity numbers are registered, does an
    identity number no subject has."""
    reply = await gateway.lists.check(
        lst.CheckRestrictionsRequest(
            subject_codes=body.subject_codes, measure_codes=body.measure_codes, grouped=True
        )
    )
    # The measures each list type triggers, once; each result names its entries.
    per_type = {
        list_type: [triggered_fields(m) for m in group.measures]
        for list_type, group in reply.measures_by_list_type.items()
    }
    # A lists service from before `grouped` names every measure in full in each result
    # (and then never fills the groups).
    in_full = not per_type
    # Plain dicts in the shape of schemas.RestrictionResults: 10,000 response models,
    # validated again by FastAPI, cost more than the check itself. One pass over the
    # results (each access to one makes a new message object) also gathers the audited.
    results: list[dict[str, Any]] = []
    audited: list[str] = []
    for r in reply.results:
        if not read.purpose and (r.natural_person or (not r.found and _person_shaped(r.code))):
            # An identity number nobody has registered is answered as a registered one:
            # else the answers tell, 10,000 a call, which numbers are registered persons.
            result: dict[str, Any] = {"code": r.code, "restricted": False, "rewarded": False}
            result["measures"] = []
            result["error"] = "purpose_required"
            results.append(result)
            continue
        if r.found:
            audited.append(r.subject_key)
        result = {
            "code": r.code,
            "restricted": r.restricted,
            "rewarded": r.rewarded,
            "measures": [triggered_fields(t) for t in r.measures]
            if in_full
            else [
                {**fields, "entry_id": t.entry_id, "list_type": t.list_type}
                for t in r.triggering
                for fields in per_type[t.list_type]
            ],
        }
        if r.canonical_code and r.canonical_code != r.code.strip().upper():
            result["canonical_code"] = r.canonical_code
        if r.error:
            result["error"] = r.error
        results.append(result)
    audit(gateway, read, audited, "restriction_check", read.level)
    return BatchJSON({"results": results, "level": read.level.label})


@router.post("/v1/measure-feedback", status_code=201, response_model=schemas.FeedbackPublic)
async def feedback(
    body: schemas.FeedbackCreate, caller: SharedDep, gateway: GatewayDep
) -> schemas.FeedbackPublic:
    """An agency reports that it applied a measure (the joint reward and punishment cases)."""
    stored = await gateway.lists.feedback(
        lst.RecordFeedbackRequest(
            caller=_caller(caller),
            entry_id=body.entry_id,
            measure_code=body.measure_code,
            applied_on=body.applied_on.isoformat(),
            outcome=body.outcome,
            note=body.note,
        )
    )
    return schemas.FeedbackPublic(
        feedback_id=stored.feedback_id,
        entry_id=stored.entry_id,
        measure_code=stored.measure_code,
        department=stored.department,
        applied_on=dt.date.fromisoformat(stored.applied_on),
        outcome=stored.outcome,
        note=stored.note,
    )


@router.get("/v1/measure-feedback/statistics", response_model=schemas.FeedbackStatistics)
async def statistics(
    _: SharedDep,
    gateway: GatewayDep,
    measure_code: Annotated[str, Query(max_length=64)] = "",
    department: Annotated[str, Query(max_length=64)] = "",
    month_from: Annotated[str, Query(pattern=r"^(\d{4}-\d{2})?$")] = "",
    month_to: Annotated[str, Query(pattern=r"^(\d{4}-\d{2})?$")] = "",
) -> schemas.FeedbackStatistics:
    """Counts of applied measures per measure, department and month."""
    reply = await gateway.lists.statistics(
        lst.FeedbackStatisticsRequest(
            measure_code=measure_code,
            department=department,
            month_from=month_from,
            month_to=month_to,
        )
    )
    return schemas.FeedbackStatistics(
        results=[
            schemas.FeedbackCount(
                measure_code=c.measure_code, department=c.department, month=c.month, count=c.count
            )
            for c in reply.counts
        ]
    )
