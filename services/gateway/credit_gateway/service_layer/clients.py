"""API clients: creation, listing, revocation, and authentication with their secret."""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from credit_common.db import Database
from credit_common.errors import Conflict, FieldViolation, InvalidArgument, NotFound
from credit_common.timeutil import utcnow
from credit_gateway.adapters.secrets import (
    Recognised,
    hash_secret,
    new_secret,
    verify_secret_off_loop,
)
from credit_gateway.adapters.tables import clients
from credit_gateway.domain.access import SCOPES, department_problem


@dataclass(frozen=True)
class Client:
    client_id: str
    name: str
    department: str
    scopes: frozenset[str]
    subject_code: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    rate_per_second: float | None = None
    rate_burst: int | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _client(row: sa.Row[tuple[object, ...]]) -> Client:
    m = row._mapping
    return Client(
        client_id=m["client_id"],
        name=m["name"],
        department=m["department"],
        scopes=frozenset(str(m["scopes"]).split()),
        subject_code=m["subject_code"],
        created_at=m["created_at"],
        revoked_at=m["revoked_at"],
        rate_per_second=m["rate_per_second"],
        rate_burst=m["rate_burst"],
    )


async def _row(conn: AsyncConnection, client_id: str) -> sa.Row[Any] | None:
    return (await conn.execute(sa.select(clients).where(clients.c.client_id == client_id))).first()


class Clients:
    def __init__(self, db: Database, *, cache_seconds: float = 0.0) -> None:
        self.db = db
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Client]] = {}
        self._recognised = Recognised()
        # Called with the client id after a revocation here (the gateway tells the others).
        self.on_revoke: Callable[[str], Awaitable[None]] | None = None

    async def current(self, client_id: str) -> Client | None:
        """The client as a token check needs it: from a short cache (cache_seconds) that a
        revocation clears at once; a client not found is not cached."""
        now = time.monotonic()
        cached = self._cache.get(client_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        client = await self.get(client_id)
        if client is not None and self.cache_seconds > 0:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[client_id] = (now + self.cache_seconds, client)
        return client

    def forget(self, client_id: str) -> None:
        """Drops the cached client (revoked here or, as another replica says, there)."""
        self._cache.pop(client_id, None)

    def forget_all(self) -> None:
        self._cache.clear()

    async def create(
        self,
        *,
        name: str,
        department: str,
        scopes: list[str],
        subject_code: str,
        created_by: str,
        client_id: str | None = None,
        secret: str | None = None,
        rate_per_second: float | None = None,
        rate_burst: int | None = None,
    ) -> tuple[Client, str]:
        """Creates a client and returns it with its secret, which is shown only now."""
        problems = []
        if not name.strip():
            problems.append(FieldViolation("name", "required"))
        unknown_department = department_problem(department)
        if unknown_department is not None:
            problems.append(FieldViolation("department", unknown_department))
        unknown = sorted(set(scopes) - SCOPES)
        if unknown:
            problems.append(
                FieldViolation(
                    "scopes",
                    f"unknown scopes: {', '.join(unknown)}; known: {', '.join(sorted(SCOPES))}",
                )
            )
        if "subject:self" in scopes and not subject_code:
            problems.append(FieldViolation("subject_code", "required with the subject:self scope"))
        if problems:
            raise InvalidArgument("invalid client", "validation_failed", problems)
        client_id = client_id or "cl_" + secrets.token_hex(8)
        secret = secret or new_secret()
        now = utcnow()
        async with self.db.transaction() as conn:
            if await conn.scalar(
                sa.select(clients.c.client_id).where(clients.c.client_id == client_id)
            ):
                raise Conflict(f"client {client_id} exists", "client_exists")
            await conn.execute(
                sa.insert(clients).values(
                    client_id=client_id,
                    secret_hash=hash_secret(secret),
                    name=name.strip(),
                    department=department,
                    scopes=" ".join(sorted(set(scopes))),
                    subject_code=subject_code,
                    created_at=now,
                    created_by=created_by,
                    rate_per_second=rate_per_second,
                    rate_burst=rate_burst,
                )
            )
        client = Client(
            client_id,
            name.strip(),
            department,
            frozenset(scopes),
            subject_code,
            now,
            None,
            rate_per_second,
            rate_burst,
        )
        return client, secret

    async def ensure_admin(self, client_id: str, secret: str) -> None:
        """Creates the bootstrap admin client if it does not exist yet (the secret of an
        existing one is left as it is)."""
        async with self.db.read() as conn:
            exists = await _row(conn, client_id) is not None
        if not exists:
            with contextlib.suppress(Conflict):  # another replica created it first
                await self.create(
                    name="bootstrap admin",
                    department="development_reform",
                    scopes=["admin"],
                    subject_code="",
                    created_by="bootstrap",
                    client_id=client_id,
                    secret=secret,
                )

    async def get(self, client_id: str) -> Client | None:
        async with self.db.read() as conn:
            row = await _row(conn, client_id)
        return _client(row) if row else None

    async def list(self) -> list[Client]:
        async with self.db.read() as conn:
            rows = (await conn.execute(sa.select(clients).order_by(clients.c.created_at))).all()
        return [_client(r) for r in rows]

    async def revoke(self, client_id: str) -> Client:
        """Revokes a client; its tokens stop working at once (the cache here is cleared and
        the other replicas are told through `on_revoke`)."""
        async with self.db.transaction() as conn:
            row = await _row(conn, client_id)
            if row is None:
                raise NotFound(f"no client {client_id}")
            if row.revoked_at is None:
                await conn.execute(
                    sa.update(clients)
                    .where(clients.c.client_id == client_id)
                    .values(revoked_at=utcnow())
                )
        self.forget(client_id)
        if self.on_revoke is not None:
            await self.on_revoke(client_id)
        client = await self.get(client_id)
        assert client is not None
        return client

    async def authenticate(
        self,
        client_id: str,
        secret: str,
        before_hashing: Callable[[], Awaitable[None]] | None = None,
    ) -> Client | None:
        """The active client whose secret this is, or None. A secret this process verified
        lately for the client's current hash is recognised without scrypt; any other is
        hashed, after `before_hashing` (a limit on the hashing a client id may cause, which
        may refuse) if given, and remembered when it matches."""
        async with self.db.read() as conn:
            row = await _row(conn, client_id)
        if row is None or row.revoked_at is not None:
            return None
        if self._recognised.knows(client_id, secret, row.secret_hash):
            return _client(row)
        if before_hashing is not None:
            await before_hashing()
        if not await verify_secret_off_loop(secret, row.secret_hash):
            return None
        self._recognised.remember(client_id, secret, row.secret_hash)
        return _client(row)
