"""A secret verified once is recognised again without scrypt: a flood of wrong secrets,
each costing scrypt, then holds up no client that has authenticated before (the token
route limits the hashing a client id may cause, and a recognised secret causes none)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from credit_common.db import Database
from credit_gateway import bootstrap
from credit_gateway.adapters.secrets import Recognised, hash_secret
from credit_gateway.adapters.tables import clients
from credit_gateway.service_layer.clients import Clients
from credit_gateway.settings import GatewaySettings


async def test_a_secret_verified_once_is_recognised_without_hashing_until_it_changes(
    database_url: str, tmp_path: Path
) -> None:
    bootstrap.migrate(GatewaySettings(database_url=database_url, var_dir=tmp_path))
    db = Database(database_url)
    hashed: list[str] = []

    async def counted() -> None:  # what the token route passes: its limit on hashing
        hashed.append("hash")

    try:
        registry = Clients(db)
        client, secret = await registry.create(
            name="税务", department="tax", scopes=["credit:shared"], subject_code="", created_by="t"
        )
        assert await registry.authenticate(client.client_id, secret, counted) is not None
        assert hashed == ["hash"]
        for _ in range(3):  # recognised: no hashing, no limit
            assert await registry.authenticate(client.client_id, secret, counted) is not None
        assert hashed == ["hash"]
        assert await registry.authenticate(client.client_id, secret + "x", counted) is None
        assert hashed == ["hash"] * 2
        # A new secret stored (a rotation): the old one is no longer recognised, nor valid.
        async with db.transaction() as conn:
            await conn.execute(
                sa.update(clients)
                .where(clients.c.client_id == client.client_id)
                .values(secret_hash=hash_secret("cs_new"))
            )
        assert await registry.authenticate(client.client_id, secret, counted) is None
        assert await registry.authenticate(client.client_id, "cs_new", counted) is not None
        assert hashed == ["hash"] * 4
        # Revoked: refused before anything is hashed or recognised.
        await registry.revoke(client.client_id)
        assert await registry.authenticate(client.client_id, "cs_new", counted) is None
        assert hashed == ["hash"] * 4
    finally:
        await db.dispose()


def test_the_memory_of_secrets_is_bounded_and_keyed_per_process() -> None:
    first, other = Recognised(size=2), Recognised(size=2)
    first.remember("a", "s1", "h1")
    assert first.knows("a", "s1", "h1") and not other.knows("a", "s1", "h1")
    assert not first.knows("a", "s1", "h2") and not first.knows("a", "s2", "h1")
    first.remember("b", "s2", "h2")
    first.remember("c", "s3", "h3")  # past its size: the one remembered longest ago goes
    assert not first.knows("a", "s1", "h1")
    assert first.knows("b", "s2", "h2") and first.knows("c", "s3", "h3")
