"""Moves every stored identity number to the current encryption key (key rotation)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from credit_common.db import Database
from credit_registry.adapters import tables as t
from credit_registry.adapters.crypto import IdentityProtector


@dataclass(frozen=True)
class Rekeyed:
    examined: int
    rewritten: int


async def rekey(
    db: Database,
    protector: IdentityProtector,
    *,
    batch: int = 1000,
    progress: Callable[[int, int], None] | None = None,
) -> Rekeyed:
    """Re-encrypts, batch by batch (one transaction each), every identity number that is
    not under the current key. The registry may keep serving meanwhile: it reads old and new
    ciphertexts alike, and a row changed since it was read is left for the next run (the
    update is guarded by the ciphertext it read). Running it again rewrites nothing."""
    s = t.subjects
    examined = rewritten = 0
    after: uuid.UUID | None = None
    while True:
        async with db.transaction() as conn:
            query = (
                sa.select(s.c.id, s.c.id_cipher)
                .where(s.c.id_cipher.is_not(None))
                .order_by(s.c.id)
                .limit(batch)
            )
            if after is not None:
                query = query.where(s.c.id > after)
            rows = (await conn.execute(query)).all()
            if not rows:
                return Rekeyed(examined, rewritten)
            for row in rows:
                examined += 1
                if protector.current(row.id_cipher):
                    continue
                changed = await conn.execute(
                    sa.update(s)
                    .where(s.c.id == row.id, s.c.id_cipher == row.id_cipher)
                    .values(id_cipher=protector.rekey(row.id_cipher))
                    .returning(s.c.id)
                )
                rewritten += len(changed.all())
            after = rows[-1].id
        if progress is not None:
            progress(examined, rewritten)
