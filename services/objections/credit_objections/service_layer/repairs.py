"""The repair use cases: apply (eligibility checked at once), decide, read, list."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

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
from credit_common.timeutil import china_date, utcnow
from credit_objections.adapters.repository import Filters, RepairRepository
from credit_objections.adapters.targets import Targets
from credit_objections.domain.cases import (
    PageKey,
    TargetRef,
    check_evidence,
    check_target,
    check_text,
)
from credit_objections.domain.clock import Schedule
from credit_objections.domain.repairs import Repair, RepairState, check_commitment, check_repairable
from credit_objections.service_layer import commands
from credit_objections.service_layer.guards import settle_filing
from credit_objections.service_layer.subjects import subject_of

log = logging.getLogger(__name__)


def decided_event(r: Repair) -> Event:
    payload = ev.RepairDecided(
        repair_id=str(r.id),
        target=ev.Target(kind=r.target.kind, id=r.target.id),
        subject_id=str(r.subject.id),
        approved=r.state == RepairState.APPROVED,
        reason=r.decision_reason,
    )
    return Event("repair.decided", r.subject.key, payload)


class Repairs:
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

    async def apply(self, cmd: commands.Apply) -> Repair:
        """Applies for repair; refused at once with the reason and the first possible date."""
        check_target(cmd.target)
        check_commitment(cmd.commitment)
        grounds = check_text(cmd.grounds, "grounds", "a repair application")
        evidence = check_evidence(cmd.evidence)
        facts = await self.targets.facts(cmd.target)
        now = utcnow()
        check_repairable(facts, china_date(now))
        subject = await subject_of(self.directory, facts, cmd.subject_code)
        repair = Repair.apply(
            target=cmd.target,
            subject=subject,
            grounds=grounds,
            evidence=evidence,
            commitment=cmd.commitment,
            filer=cmd.caller,
            at=now,
            schedule=self.schedule,
        )
        if repair.calendar_note:
            log.warning("repair %s: %s", repair.id, repair.calendar_note)
        try:
            async with self.db.transaction() as conn:
                repo = RepairRepository(conn)
                if await repo.open_on(cmd.target):
                    raise Conflict("the target has an open repair application", "repair_open")
                await repo.add(repair)
                await settle_filing(conn, repo, repair)
        except sa.exc.IntegrityError as error:  # a concurrent application won
            raise Conflict("the target has an open repair application", "repair_open") from error
        return repair

    async def decide(self, cmd: commands.DecideRepair) -> Repair:
        """Approves or rejects; repair.decided tells the target's owner. An approval is
        checked against the target as it stands now: a record corrected since the
        application (a heavier severity, a penalty kind that bars repair) may have become
        too early, or not repairable, and the application then stays open to be rejected."""
        reason = check_text(cmd.reason, "reason", "a decision")
        if cmd.decision == RepairState.APPROVED:
            applied = await self.get(cmd.repair_id)
            if applied.state == RepairState.SUBMITTED:
                check_repairable(await self.targets.facts(applied.target), china_date(utcnow()))
        async with self.db.transaction() as conn:
            repo = RepairRepository(conn)
            repair = await repo.get(cmd.repair_id, for_update=True)
            if repair is None:
                raise NotFound("no such repair application")
            version = repair.version
            step = repair.decide(cmd.caller, cmd.decision, reason, utcnow())
            if not await repo.save(repair, version, step):
                raise InvalidTransition("another decision on this application was taken first")
            await self.outbox.add(conn, decided_event(repair))
        return repair

    async def close_on(
        self,
        conn: AsyncConnection,
        target: TargetRef,
        reason: str,
        at: dt.datetime,
        *,
        filed_by: dt.datetime | None = None,
    ) -> int:
        """Closes open applications whose target vanished, those filed by `filed_by` if
        given; runs in the caller's transaction."""
        repo = RepairRepository(conn)
        closed = 0
        for repair in await repo.open_on(target, filed_by=filed_by):
            version = repair.version
            if await repo.save(repair, version, repair.close(reason, at)):
                closed += 1
        return closed

    async def get(self, repair_id: uuid.UUID) -> Repair:
        async with self.db.read() as conn:
            repair = await RepairRepository(conn).get(repair_id)
        if repair is None:
            raise NotFound("no such repair application")
        return repair

    async def list(self, cmd: commands.Listing) -> tuple[list[Repair], PageKey | None]:
        """Open ones soonest due first, then decided ones, newest first."""
        if cmd.state and cmd.state != "open" and cmd.state not in RepairState.__members__.values():
            raise InvalidArgument(
                "unknown state", "validation_failed", [FieldViolation("state", "a state or open")]
            )
        size = min(max(cmd.page_size or 50, 1), commands.MAX_PAGE)
        filters = Filters(
            state=cmd.state,
            subject_id=cmd.subject_id,
            overdue_at=utcnow() if cmd.overdue_only else None,
            filed_by=cmd.filed_by,
            after=cmd.after,
        )
        async with self.db.read() as conn:
            found = await RepairRepository(conn).list(filters, cmd.offset, size + 1)
        return found[:size], (PageKey.of(found[size - 1]) if len(found) > size else None)
