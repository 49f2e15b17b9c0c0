"""The objection use cases: file, accept, reject, verify, decide, withdraw, read, list.

Each step is one transaction: the row is locked (PostgreSQL), the domain decides, the step
is saved with a compare-and-set on the version, and its event goes to the outbox in the
same transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from credit.events.v1 import objections_pb2 as ev
from credit_common.db import Database
from credit_common.directory import SubjectDirectory
from credit_common.errors import (
    Conflict,
    FieldViolation,
    InvalidArgument,
    InvalidTransition,
    NotFound,
)
from credit_common.outbox import Event, Outbox
from credit_common.timeutil import utcnow
from credit_objections.adapters.repository import Filters, ObjectionRepository
from credit_objections.adapters.targets import Targets, correction_problems
from credit_objections.domain.cases import (
    PageKey,
    TargetRef,
    Transition,
    check_evidence,
    check_target,
    check_text,
)
from credit_objections.domain.clock import Schedule
from credit_objections.domain.objections import Objection, State
from credit_objections.domain.targets import check_objectionable
from credit_objections.service_layer import commands
from credit_objections.service_layer.guards import settle_filing
from credit_objections.service_layer.subjects import subject_of

log = logging.getLogger(__name__)


def _target(o: Objection) -> ev.Target:
    return ev.Target(kind=o.target.kind, id=o.target.id)


def filed_event(o: Objection) -> Event:
    payload = ev.ObjectionFiled(
        objection_id=str(o.id), target=_target(o), subject_id=str(o.subject.id)
    )
    return Event("objection.filed", o.subject.key, payload)


def closed_event(o: Objection, step: Transition) -> Event:
    """objection.closed: upheld carries the verified corrections (none: withdraw the record)."""
    payload = ev.ObjectionClosed(
        objection_id=str(o.id),
        target=_target(o),
        subject_id=str(o.subject.id),
        outcome=str(o.state),
        reason=step.reason,
        decided_by=step.actor,
    )
    if o.state == State.UPHELD and o.corrected_fields:
        payload.corrected_fields.update(o.corrected_fields)
    return Event("objection.closed", o.subject.key, payload)


class Objections:
    def __init__(
        self,
        db: Database,
        targets: Targets,
        directory: SubjectDirectory,
        outbox: Outbox,
        schedule: Schedule,
    ) -> None:
        self.db = db
        self.targets = targets
        self.directory = directory
        self.outbox = outbox
        self.schedule = schedule

    async def file(self, cmd: commands.File) -> Objection:
        """Files an objection; objection.filed marks the target at every level."""
        check_target(cmd.target)
        reason = check_text(cmd.reason, "reason", "an objection")
        evidence = check_evidence(cmd.evidence)
        facts = await self.targets.facts(cmd.target)
        check_objectionable(facts)
        subject = await subject_of(self.directory, facts, cmd.subject_code)
        objection = Objection.file(
            target=cmd.target,
            subject=subject,
            source_department=facts.source_department,
            reason=reason,
            evidence=evidence,
            filer=cmd.caller,
            at=utcnow(),
            schedule=self.schedule,
        )
        if objection.calendar_note:
            log.warning("objection %s: %s", objection.id, objection.calendar_note)
        try:
            async with self.db.transaction() as conn:
                repo = ObjectionRepository(conn)
                await self._refuse_second(repo, cmd)
                await repo.add(objection)
                await settle_filing(conn, repo, objection)
                await self.outbox.add(conn, filed_event(objection))
        except sa.exc.IntegrityError:  # a concurrent filing by the same filer won
            async with self.db.read() as conn:
                await self._refuse_second(ObjectionRepository(conn), cmd)
            raise
        return objection

    @staticmethod
    async def _refuse_second(repo: ObjectionRepository, cmd: commands.File) -> None:
        existing = await repo.open_one(cmd.target, cmd.caller.client_id)
        if existing is not None:
            raise Conflict(
                "this filer already has an open objection on the target",
                "objection_open",
                metadata={"objection_id": str(existing)},
            )

    async def accept(self, cmd: commands.Step) -> Objection:
        """Accepts it for verification by the target's source department."""
        reason = check_text(cmd.reason, "reason", "an acceptance")
        return await self._step(
            cmd.objection_id, lambda o: o.accept(cmd.caller, reason, utcnow(), self.schedule)
        )

    async def reject(self, cmd: commands.Step) -> Objection:
        """Rejects it as inadmissible; the mark is cleared."""
        reason = check_text(cmd.reason, "reason", "a rejection")
        return await self._step(cmd.objection_id, lambda o: o.reject(cmd.caller, reason, utcnow()))

    async def verify(self, cmd: commands.Verify) -> Objection:
        """Records the source department's finding and corrected fields."""
        note = check_text(cmd.note, "note", "a verification")
        corrected = cmd.corrected_fields
        objection = await self.get(cmd.objection_id)
        # Checked now, so that an upheld objection never sends the records service a
        # correction it must refuse; a wrong department or state is refused by the step.
        if (
            corrected
            and objection.state == State.VERIFYING
            and objection.source_department == cmd.caller.department
        ):
            if objection.target.kind != "record":
                raise InvalidArgument(
                    "corrected fields apply to records only (an upheld objection withdraws an entry)",
                    "validation_failed",
                    [FieldViolation("corrected_fields", "only for a record")],
                )
            problems = correction_problems(await self.targets.facts(objection.target), corrected)
            if problems:
                raise InvalidArgument(
                    "the corrected fields do not fit the record's item",
                    "validation_failed",
                    problems,
                )
        return await self._step(
            cmd.objection_id,
            lambda o: o.verify(cmd.caller, cmd.finding, corrected, note, utcnow(), self.schedule),
        )

    async def decide(self, cmd: commands.Decide) -> Objection:
        """Upholds or dismisses it; objection.closed tells the target's owner."""
        reason = check_text(cmd.reason, "reason", "a decision")
        return await self._step(
            cmd.objection_id, lambda o: o.decide(cmd.caller, cmd.decision, reason, utcnow())
        )

    async def withdraw(self, cmd: commands.Step) -> Objection:
        """The filer withdraws it before a decision; the mark is cleared."""
        reason = cmd.reason.strip() or "withdrawn by the filer"
        return await self._step(
            cmd.objection_id, lambda o: o.withdraw(cmd.caller, reason, utcnow())
        )

    async def _step(
        self, objection_id: uuid.UUID, apply: Callable[[Objection], Transition]
    ) -> Objection:
        async with self.db.transaction() as conn:
            repo = ObjectionRepository(conn)
            objection = await repo.get(objection_id, for_update=True)
            if objection is None:
                raise NotFound("no such objection")
            version = objection.version
            step = apply(objection)
            if not await repo.save(objection, version, step):
                raise InvalidTransition(
                    "another step on this objection was taken first; read it again",
                    metadata={"state": str(objection.state)},
                )
            if not objection.open:
                await self.outbox.add(conn, closed_event(objection, step))
        return objection

    async def close_on(
        self,
        conn: AsyncConnection,
        target: TargetRef,
        reason: str,
        at: dt.datetime,
        *,
        filed_by: dt.datetime | None = None,
    ) -> int:
        """Closes the target's open objections (it vanished), those filed by `filed_by` if
        given; runs in the caller's transaction."""
        repo = ObjectionRepository(conn)
        closed = 0
        for objection in await repo.open_on(target, filed_by=filed_by):
            version = objection.version
            step = objection.close(reason, at)
            if await repo.save(objection, version, step):
                await self.outbox.add(conn, closed_event(objection, step))
                closed += 1
        return closed

    async def get(self, objection_id: uuid.UUID) -> Objection:
        async with self.db.read() as conn:
            objection = await ObjectionRepository(conn).get(objection_id)
        if objection is None:
            raise NotFound("no such objection")
        return objection

    async def list(self, cmd: commands.Listing) -> tuple[list[Objection], PageKey | None]:
        """Open ones soonest due first (the handler's view), then closed ones, newest first."""
        if cmd.state and cmd.state != "open" and cmd.state not in State.__members__.values():
            raise InvalidArgument(
                "unknown state", "validation_failed", [FieldViolation("state", "a state or open")]
            )
        size = min(max(cmd.page_size or 50, 1), commands.MAX_PAGE)
        filters = Filters(
            state=cmd.state,
            subject_id=cmd.subject_id,
            overdue_at=utcnow() if cmd.overdue_only else None,
            source_department=cmd.source_department,
            filed_by=cmd.filed_by,
            after=cmd.after,
        )
        async with self.db.read() as conn:
            found = await ObjectionRepository(conn).list(filters, cmd.offset, size + 1)
        return found[:size], (PageKey.of(found[size - 1]) if len(found) > size else None)
