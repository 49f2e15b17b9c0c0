"""What a filing checks in its own transaction, against events heard since it looked its
target and subject up: a target heard gone, a subject heard merged."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from credit_common.errors import DomainError
from credit_objections.adapters.repository import (
    ObjectionRepository,
    RepairRepository,
    lock_subjects,
    lock_target,
    survivor_of,
    vanished,
)
from credit_objections.domain.cases import Subject, TargetRef
from credit_objections.domain.objections import Objection
from credit_objections.domain.repairs import Repair


async def refuse_vanished(conn: AsyncConnection, target: TargetRef) -> None:
    """In the filing's transaction, first: the target was checked over gRPC before it, and
    may have gone since (its cases closed before this filing commits, which would then stay
    open for good). Under the target's lock, a closing either came first and is seen here,
    or comes after this filing commits and closes it."""
    await lock_target(conn, target)
    why = await vanished(conn, target)
    if why is not None:
        if target.kind == "record":
            raise DomainError(f"the record is already withdrawn: {why}", "target_withdrawn")
        raise DomainError(f"the list entry is no longer listed: {why}", "target_ended")


async def filed_under(conn: AsyncConnection, subject: Subject) -> Subject:
    """In the filing's transaction: the subject to file under. The filing resolved its
    subject before (the registry follows merges, but its answers are kept a few seconds,
    and a merge is heard here at its own pace); under the subject's lock, a merge either
    came first and is followed here, or comes after this filing commits and moves it."""
    await lock_subjects(conn, subject.id)
    return await survivor_of(conn, subject)


async def settle_filing(
    conn: AsyncConnection, repo: ObjectionRepository | RepairRepository, case: Objection | Repair
) -> None:
    """Right after the filing's insert (on SQLite its first write, which takes the
    database's write lock: a closing or a merge cannot commit between the checks and the
    insert, as it could were they read first): refused if its target was heard gone, and
    under the survivor if its subject was heard merged."""
    await refuse_vanished(conn, case.target)
    survivor = await filed_under(conn, case.subject)
    if survivor != case.subject:
        await repo.move_case(case.id, survivor)
        case.subject = survivor
