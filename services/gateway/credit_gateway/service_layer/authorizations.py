"""Subjects' grants of their authorized level to a client, for a purpose, until a date."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from credit_common.db import Database
from credit_common.errors import FieldViolation, InvalidArgument, NotFound, PermissionDenied
from credit_common.timeutil import utcnow
from credit_gateway.adapters.tables import authorizations
from credit_gateway.service_layer.clients import Clients


@dataclass(frozen=True)
class Grant:
    id: str
    subject_key: str
    grantee_client_id: str
    purpose: str
    expires_at: dt.datetime
    revoked_at: dt.datetime | None

    def active(self, now: dt.datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now


class Authorizations:
    def __init__(self, db: Database, clients: Clients) -> None:
        self.db = db
        self.clients = clients

    async def grant(
        self,
        *,
        subject_key: str,
        grantee: str,
        purpose: str,
        expires_at: dt.datetime,
        created_by: str,
    ) -> Grant:
        now = utcnow()
        problems = []
        if expires_at <= now:
            problems.append(FieldViolation("expires_at", "must be in the future"))
        if not 2 <= len(purpose.strip()) <= 200:
            problems.append(FieldViolation("purpose", "2-200 characters"))
        client = await self.clients.get(grantee)
        if client is None or not client.active:
            problems.append(FieldViolation("grantee_client_id", "no active client with this id"))
        elif "credit:authorized" not in client.scopes:
            problems.append(
                FieldViolation("grantee_client_id", "the client lacks the credit:authorized scope")
            )
        if problems:
            raise InvalidArgument("invalid authorization", "validation_failed", problems)
        grant = Grant(str(uuid.uuid4()), subject_key, grantee, purpose.strip(), expires_at, None)
        async with self.db.transaction() as conn:
            await conn.execute(
                sa.insert(authorizations).values(
                    id=grant.id,
                    subject_key=subject_key,
                    grantee_client_id=grantee,
                    purpose=grant.purpose,
                    expires_at=expires_at,
                    created_at=now,
                    created_by=created_by,
                )
            )
        return grant

    async def get(self, authorization_id: str) -> Grant | None:
        async with self.db.read() as conn:
            row = (
                await conn.execute(
                    sa.select(authorizations).where(authorizations.c.id == authorization_id)
                )
            ).first()
        if row is None:
            return None
        return Grant(
            row.id,
            row.subject_key,
            row.grantee_client_id,
            row.purpose,
            row.expires_at,
            row.revoked_at,
        )

    async def revoke(self, authorization_id: str, subject_key: str) -> Grant:
        """Revokes a grant at once (every read checks it)."""
        grant = await self.get(authorization_id)
        if grant is None or grant.subject_key != subject_key:
            raise NotFound("no such authorization")
        async with self.db.transaction() as conn:
            await conn.execute(
                sa.update(authorizations)
                .where(
                    authorizations.c.id == authorization_id, authorizations.c.revoked_at.is_(None)
                )
                .values(revoked_at=utcnow())
            )
        revoked = await self.get(authorization_id)
        assert revoked is not None
        return revoked

    async def check(self, authorization_id: str, client_id: str) -> Grant:
        """The grant a read names, if it is active and granted to this client."""
        grant = await self.get(authorization_id)
        if grant is None or grant.grantee_client_id != client_id or not grant.active(utcnow()):
            raise PermissionDenied(
                "no active authorization with this id for this client", "authorization_invalid"
            )
        return grant
