"""A filing on a target heard gone is refused, as when the target says so itself."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from credit_common.errors import DomainError
from credit_objections.adapters.repository import lock_target, vanished
from credit_objections.domain.cases import TargetRef


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
