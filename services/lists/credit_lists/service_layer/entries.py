"""The lists use cases: propose, remove, read entries; subject status; the batch check."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncConnection

from credit.events.v1 import lists_pb2 as ev
from credit_common.db import Database
from credit_common.directory import SubjectDirectory, SubjectRef
from credit_common.errors import FieldViolation, InvalidArgument, NotFound, PermissionDenied
from credit_common.messages import timestamp
from credit_common.outbox import Event, Outbox
from credit_common.timeutil import utcnow
from credit_lists.adapters.definitions import Definitions
from credit_lists.adapters.records_client import RecordsClient
from credit_lists.adapters.repository import EntryRepository, hear_of_records, survivor_of
from credit_lists.domain.model import (
    CURRENT,
    Entry,
    ListType,
    Measure,
    State,
    check_removal,
    merge_note,
    period_end,
    takes_effect,
    validity,
)
from credit_lists.service_layer import commands

MAX_PAGE = 500
MAX_BATCH = 10_000
# A check resolves its codes and reads their subjects' entries in parts of CHECK_PART codes,
# CHECK_PARALLEL parts at once (so at most that many registry calls and connections).
CHECK_PART = 1_000
CHECK_PARALLEL = 4
_NONE: frozenset[str] = frozenset()  # the measure kinds of a subject on no list
# Stored states a computed state can come from (the clock moves publicity → effective → expired).
STORED_FOR = {
    State.PUBLICITY: (State.PUBLICITY,),
    State.EFFECTIVE: (State.PUBLICITY, State.EFFECTIVE),
    State.EXPIRED: (State.PUBLICITY, State.EFFECTIVE, State.EXPIRED),
    State.REMOVED: (State.REMOVED,),
    State.WITHDRAWN: (State.WITHDRAWN,),
}


def changed(
    entry: Entry,
    from_state: State,
    to_state: State,
    reason: str,
    *,
    kind: str = "",
    ended_at: dt.datetime | None = None,
) -> Event:
    """The event of an entry's change (`kind`, else the one its new state names)."""
    return Event(
        kind or (f"entry.{to_state.value}" if to_state != State.PUBLICITY else "entry.proposed"),
        entry.subject_key,
        ev.EntryChanged(
            entry_id=str(entry.id),
            subject_id=str(entry.subject_id),
            subject_key=entry.subject_key,
            list_type=entry.list_type,
            color=entry.color,
            from_state=from_state.value,
            to_state=to_state.value,
            reason=reason,
            department=entry.department,
            basis_record_ids=entry.basis_record_ids,
            valid_until=timestamp(entry.valid_until),
            ended_at=timestamp(ended_at),
        ),
    )


def new_entry(
    list_type: ListType,
    *,
    subject_id: uuid.UUID,
    subject_key: str,
    reason: str,
    decision_ref: str,
    basis_record_ids: list[str],
    proposed_by: str,
    now: dt.datetime,
    valid_until: dt.datetime | None,
    listed_from: dt.datetime | None = None,
) -> Entry:
    """An entry as its list type makes it: in publicity for the type's days from
    `listed_from` (now, unless a listing rule counts from the decision its record holds),
    effective at once when the type has none; valid until `valid_until`; repairable after
    the type's minimum."""
    anchor = listed_from or now
    immediate = list_type.publicity_days == 0
    start = takes_effect(list_type, anchor)
    return Entry(
        id=uuid.uuid4(),
        subject_id=subject_id,
        subject_key=subject_key,
        list_type=list_type.list_type,
        color=list_type.color,
        department=list_type.authority_department,
        reason=reason,
        decision_ref=decision_ref,
        basis_record_ids=basis_record_ids,
        proposed_by=proposed_by,
        proposed_at=now,
        state=State.EFFECTIVE if immediate else State.PUBLICITY,
        publicity_until=start,
        valid_until=valid_until,
        effective_from=anchor if immediate else None,
        open_objections=0,
        repairable=list_type.repairable,
        repair_possible_from=(
            period_end(start, list_type.min_days_before_repair)
            if list_type.min_days_before_repair
            else start
        )
        if list_type.repairable
        else None,
    )


class BasisWithdrawn(InvalidArgument):
    """A new entry would rest on a record withdrawn already (record.withdrawn heard): it is
    not stored, as no withdrawal would ever come again to withdraw it."""

    def __init__(self, record_ids: list[str]) -> None:
        super().__init__(
            "the entry was not accepted",
            "validation_failed",
            [FieldViolation("basis_record_ids", f"record {r} is withdrawn") for r in record_ids],
        )
        self.record_ids = record_ids


@dataclass(frozen=True)
class Triggered:
    measure: Measure
    entry: Entry


@dataclass(frozen=True)
class Status:
    entries: list[Entry]
    measures: list[Triggered]

    @property
    def restricted(self) -> bool:
        return any(t.measure.kind == "punish" for t in self.measures)

    @property
    def rewarded(self) -> bool:
        return any(t.measure.kind == "reward" for t in self.measures)


class Checked(NamedTuple):
    """One code of a restriction check (a tuple: a check makes 10,000). `triggering`: the
    subject's effective entries whose list types trigger at least one asked measure (the
    measures are the check's `measures_by_list_type`, the same for every subject)."""

    code: str
    found: bool
    triggering: Sequence[Entry] = ()
    restricted: bool = False
    rewarded: bool = False
    canonical_code: str = ""
    natural_person: bool = False
    error: str = ""
    subject_key: str = ""


@dataclass(frozen=True)
class Check:
    results: list[Checked]
    measures_by_list_type: dict[str, list[Measure]]


class Entries:
    def __init__(
        self,
        db: Database,
        definitions: Definitions,
        directory: SubjectDirectory,
        records: RecordsClient,
        outbox: Outbox,
    ) -> None:
        self.db = db
        self.definitions = definitions
        self.directory = directory
        self.records = records
        self.outbox = outbox

    async def propose(self, cmd: commands.Propose) -> Entry:
        """Lists a subject: in publicity first when the type has publicity days."""
        now = utcnow()
        list_type = await self.definitions.list_type(cmd.list_type)
        if list_type is None:
            raise InvalidArgument(
                f"unknown list type {cmd.list_type!r}",
                "unknown_list_type",
                [FieldViolation("list_type", "not a list type")],
            )
        if cmd.caller.department != list_type.authority_department:
            raise PermissionDenied(
                f"only {list_type.authority_department} may propose {cmd.list_type} entries",
                "department_mismatch",
            )
        problems = []
        if not cmd.reason.strip():
            problems.append(FieldViolation("reason", "required"))
        if not cmd.decision_ref.strip():
            problems.append(FieldViolation("decision_ref", "required"))
        start = takes_effect(list_type, now)
        valid_until, validity_problems = validity(list_type, start, cmd.valid_until, now)
        problems += [FieldViolation(f, m) for f, m in validity_problems]
        subject = (await self.directory.resolve([cmd.subject_code]))[cmd.subject_code]
        unknown = ""
        if subject is None:
            unknown, problem = await self.directory.why_unknown(cmd.subject_code)
            problems.insert(0, problem)
        for record_id in cmd.basis_record_ids:
            basis = await self.records.basis(record_id)
            if basis is None:
                problems.append(FieldViolation("basis_record_ids", f"no record {record_id}"))
            elif subject is not None and basis.subject_id != subject.subject_id:
                problems.append(
                    FieldViolation("basis_record_ids", f"record {record_id} is another subject's")
                )
            elif basis.status == "withdrawn":
                # record.withdrawn withdraws the entries based on the record, but it was
                # handled before this entry existed: such an entry would never be withdrawn
                # (a withdrawal heard after this answer is seen by store_new)
                problems.append(
                    FieldViolation("basis_record_ids", f"record {record_id} is withdrawn")
                )
        if problems or subject is None:
            reason = unknown if subject is None else "validation_failed"
            raise InvalidArgument("the entry was not accepted", reason, problems)
        entry = new_entry(
            list_type,
            subject_id=subject.subject_id,
            subject_key=subject.key,
            reason=cmd.reason.strip(),
            decision_ref=cmd.decision_ref.strip(),
            basis_record_ids=list(dict.fromkeys(cmd.basis_record_ids)),
            proposed_by=cmd.caller.client_id,
            now=now,
            valid_until=valid_until,
        )
        async with self.db.transaction() as conn:
            await self.store_new(conn, entry, cmd.caller.client_id, "proposed: " + entry.reason)
        return await self.get(entry.id)

    async def store_new(self, conn: AsyncConnection, entry: Entry, actor: str, note: str) -> Entry:
        """Stores a new entry with its history and events, inside the caller's transaction:
        proposed, and effective at once when its type has no publicity. Returns it as
        stored: under the subject its subject has been merged into, if it has been (the
        merge was heard before, or committed while this was under way; reads look only
        under subjects not merged). Raises BasisWithdrawn, storing nothing, when one of its
        basis records has been withdrawn.

        Its basis records' rows are written first, then the entry, and only then is its
        subject's merge looked up (under the subject's lock): a withdrawal or a merge at the
        same moment either waits for this transaction and then sees the entry, or is seen
        by it (see hear_of_records and survivor_of). On SQLite the first write takes the
        database's write lock, so nothing commits between the look-up and the insert."""
        repo = EntryRepository(conn)
        withdrawn = await hear_of_records(conn, entry.basis_record_ids)
        if withdrawn:
            raise BasisWithdrawn(withdrawn)
        await repo.insert(entry)
        await repo.add_note(entry.id, State.PUBLICITY, entry.proposed_at, actor, note)
        survivor = await survivor_of(conn, entry.subject_id)
        if survivor is not None:
            await repo.move_to_subject(entry.id, survivor.subject_id, survivor.subject_key)
            await repo.add_note(
                entry.id,
                State.PUBLICITY,
                entry.proposed_at,
                "registry",
                merge_note(entry.subject_key, survivor.subject_key),
            )
            entry = replace(entry, subject_id=survivor.subject_id, subject_key=survivor.subject_key)
        events = [changed(entry, State.PUBLICITY, State.PUBLICITY, entry.reason)]
        if entry.state == State.EFFECTIVE:
            await repo.add_note(
                entry.id,
                State.EFFECTIVE,
                entry.proposed_at,
                actor,
                "effective at once (no publicity period)",
                from_state=State.PUBLICITY,
            )
            events.append(changed(entry, State.PUBLICITY, State.EFFECTIVE, "no publicity period"))
        await self.outbox.add(conn, *events)
        return entry

    async def get(self, entry_id: uuid.UUID) -> Entry:
        async with self.db.snapshot() as conn:
            entry = await EntryRepository(conn).get(entry_id)
        if entry is None:
            raise NotFound("no such entry")
        return entry.at(utcnow())

    async def search(self, cmd: commands.Search) -> tuple[list[Entry], int | None]:
        now = utcnow()
        wanted: tuple[State, ...] = ()
        if cmd.state:
            try:
                wanted = (State(cmd.state),)
            except ValueError as error:
                raise InvalidArgument(
                    "unknown state",
                    "invalid_argument",
                    [FieldViolation("state", ", ".join(s.value for s in State))],
                ) from error
        if cmd.current_only:
            wanted = tuple(s for s in (wanted or CURRENT) if s in CURRENT)
            if not wanted:  # a past state asked for among current entries: none is both
                return [], None
        stored = sorted({s.value for w in wanted for s in STORED_FOR[w]})
        size = min(max(cmd.page_size or 50, 1), MAX_PAGE)
        # Each entry found with its row's place among the stored rows read: a stored state
        # the clock has moved on is read and left out, so the next page begins after the
        # last row this one showed, not after as many rows as it showed.
        found: list[tuple[int, Entry]] = []
        offset = cmd.offset
        async with self.db.snapshot() as conn:
            repo = EntryRepository(conn)
            while len(found) <= size:
                batch = await repo.search(
                    list_type=cmd.list_type,
                    states=stored,
                    subject_id=cmd.subject_id,
                    offset=offset,
                    limit=size * 2,
                )
                found += [
                    (offset + n, e)
                    for n, e in enumerate(b.at(now) for b in batch)
                    if not wanted or e.state in wanted
                ]
                offset += len(batch)
                if len(batch) < size * 2:
                    break
            page = [e for _, e in found[:size]]
            await repo.complete(page, history=False)
        more = len(found) > size
        return page, (found[size - 1][0] + 1 if more else None)

    async def remove(self, cmd: commands.Remove) -> Entry:
        """Removes (or withdraws) an entry; only the list type's authority may."""
        now = utcnow()
        async with self.db.transaction() as conn:
            repo = EntryRepository(conn)
            stored = await repo.get(cmd.entry_id, for_update=True, details=False)
            if stored is None:
                raise NotFound("no such entry")
            if stored.department != cmd.caller.department:
                raise PermissionDenied(
                    "only the list type's authority may remove the entry", "department_mismatch"
                )
            await self.apply_removal(
                repo, stored, now, cmd.caller.client_id, cmd.reason, withdraw=cmd.withdraw
            )
        return await self.get(cmd.entry_id)

    async def apply_removal(
        self,
        repo: EntryRepository,
        stored: Entry,
        now: dt.datetime,
        actor: str,
        reason: str,
        *,
        withdraw: bool,
    ) -> None:
        if not stored.basis_record_ids:  # read without them: the event names them
            await repo.complete([stored], history=False)
        entry = await self.catch_up(repo, stored, now)
        target = check_removal(entry, withdraw=withdraw, reason=reason)
        await repo.move(entry.id, entry.state, target, now, actor, reason)
        await self.outbox.add(repo.conn, changed(entry, entry.state, target, reason))

    async def catch_up(self, repo: EntryRepository, stored: Entry, now: dt.datetime) -> Entry:
        """Writes down what the clock implies before another change is made on top of it."""
        entry = stored.at(now)
        state = stored.state
        if state == State.PUBLICITY and entry.state in (State.EFFECTIVE, State.EXPIRED):
            await repo.move(
                stored.id,
                State.PUBLICITY,
                State.EFFECTIVE,
                now,
                "clock",
                "publicity over",
                effective_from=stored.publicity_until,
            )
            await self.outbox.add(
                repo.conn, changed(stored, State.PUBLICITY, State.EFFECTIVE, "publicity over")
            )
            state = State.EFFECTIVE
        if state == State.EFFECTIVE and entry.state == State.EXPIRED:
            await repo.move(
                stored.id, State.EFFECTIVE, State.EXPIRED, now, "clock", "validity over"
            )
            await self.outbox.add(
                repo.conn, changed(stored, State.EFFECTIVE, State.EXPIRED, "validity over")
            )
        return entry

    def measures_for(self, entries: Sequence[Entry]) -> list[Triggered]:
        return [
            Triggered(m, e)
            for e in entries
            if e.state == State.EFFECTIVE
            for m in self.definitions.by_list_type.get(e.list_type, [])
        ]

    async def status(self, subject_id: uuid.UUID, *, include_past: bool) -> Status:
        """The subject's entries; a subject merged already (the caller resolved its code
        a moment before the merge): the entries of the subject it now stands for."""
        now = utcnow()
        async with self.db.read() as conn:
            found = await EntryRepository(conn).of_subject(
                subject_id, current_only=not include_past
            )
        entries = [e.at(now) for e in found]
        if not include_past:  # stored as current, but the clock may have expired them since
            entries = [e for e in entries if e.state in CURRENT]
        return Status(entries, self.measures_for(entries))

    async def _resolve_with_entries(
        self, codes: Sequence[str]
    ) -> tuple[dict[str, SubjectRef | None], list[Entry]]:
        """The codes' subjects and those subjects' current entries, a part at a time: while
        the registry resolves a part, the entries of the parts before it are read (the
        registry and PostgreSQL work side by side; one after the other, reading the entries
        of 10,000 subjects came on top of resolving them). A subject's entries come from one
        statement, however many of the codes name it."""
        unique = list(dict.fromkeys(c for c in codes if c))
        refs: dict[str, SubjectRef | None] = {}
        entries: list[Entry] = []
        asked: set[uuid.UUID] = set()
        now = utcnow()
        in_flight = asyncio.Semaphore(CHECK_PARALLEL)  # registry calls and connections

        async def part(chunk: list[str]) -> None:
            async with in_flight:
                found = await self.directory.resolve(chunk)
                resolved = {r.subject_id for r in found.values() if r is not None}
                if not resolved:
                    refs.update(found)
                    return
                async with self.db.read() as conn:
                    repo = EntryRepository(conn)
                    # A code resolved a moment before its merge was heard (the directory
                    # keeps answers a few seconds) stands for the survivor, which holds the
                    # entries the merge moved.
                    merged = await repo.survivors(list(resolved))
                    for code, ref in found.items():
                        if ref is not None and ref.subject_id in merged:
                            to = merged[ref.subject_id]
                            found[code] = ref._replace(subject_id=to.subject_id, key=to.subject_key)
                    refs.update(found)
                    ids = [r.subject_id for r in found.values() if r is not None]
                    ids = [i for i in dict.fromkeys(ids) if i not in asked]
                    asked.update(ids)
                    mine = await repo.current_for_subjects(ids) if ids else []
                entries.extend(e.at(now) for e in mine)

        try:
            async with asyncio.TaskGroup() as parts:  # one part failing cancels the others
                for i in range(0, len(unique), CHECK_PART):
                    parts.create_task(part(unique[i : i + CHECK_PART]))
        except* Exception as failed:  # as one call would have failed (the registry away…)
            raise failed.exceptions[0] from None
        return refs, entries

    async def check(self, codes: Sequence[str], measure_codes: Sequence[str]) -> Check:
        """For each code: restricted or rewarded, by which measures, from which entries."""
        if len(codes) > MAX_BATCH:
            raise InvalidArgument(
                f"at most {MAX_BATCH} codes per check, got {len(codes)}",
                "batch_too_large",
                [FieldViolation("subject_codes", f"at most {MAX_BATCH}")],
            )
        unknown = sorted(set(measure_codes) - set(self.definitions.measures))
        if unknown:
            raise InvalidArgument(
                "unknown measures: " + ", ".join(unknown),
                "unknown_measure",
                [FieldViolation("measure_codes", "unknown: " + ", ".join(unknown))],
            )
        normalised = [c.strip().upper() for c in codes]
        refs, entries = await self._resolve_with_entries(normalised)
        # The asked measures per list type, worked out once for the whole batch.
        wanted = set(measure_codes)
        per_type: dict[str, list[Measure]] = {}
        by_subject: dict[uuid.UUID, list[Entry]] = {}
        for entry in entries:
            if entry.state != State.EFFECTIVE:
                continue
            if entry.list_type not in per_type:
                per_type[entry.list_type] = [
                    m
                    for m in self.definitions.by_list_type.get(entry.list_type, [])
                    if not wanted or m.measure_code in wanted
                ]
            if per_type[entry.list_type]:
                by_subject.setdefault(entry.subject_id, []).append(entry)
        kinds = {lt: {m.kind for m in measures} for lt, measures in per_type.items()}
        results = []
        for raw, code in zip(codes, normalised, strict=True):
            ref = refs.get(code) if code else None
            if ref is None:
                error = "unknown subject" if code else "empty code"
                results.append(Checked(raw, False, error=error))
                continue
            mine = by_subject.get(ref.subject_id)
            triggered = set().union(*(kinds[e.list_type] for e in mine)) if mine else _NONE
            results.append(
                Checked(
                    raw,
                    True,
                    mine or (),
                    restricted="punish" in triggered,
                    rewarded="reward" in triggered,
                    canonical_code="" if ref.natural_person else ref.key,
                    natural_person=ref.natural_person,
                    subject_key=ref.key,
                )
            )
        return Check(results, {lt: m for lt, m in per_type.items() if m})
