"""Token signing keys (ES256), kept in the gateway's database and published as JWKS."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from credit_common.db import Database
from credit_common.timeutil import utcnow
from credit_gateway.adapters.tables import signing_keys


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey

    @property
    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(self.private_key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "ES256"})
        return jwk


def _load(kid: str, pem: str) -> SigningKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return SigningKey(kid, key)


class KeyStore:
    """The keys that verify tokens (all unretired and recently retired) and the one that signs."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._keys: dict[str, SigningKey] = {}
        self._current: SigningKey | None = None
        self._loaded_at = 0.0

    async def load(self) -> None:
        """Loads the keys, creating the first one when there is none."""
        self._loaded_at = time.monotonic()
        async with self.db.read() as conn:
            rows = (
                await conn.execute(sa.select(signing_keys).order_by(signing_keys.c.created_at))
            ).all()
        if not any(r.retired_at is None for r in rows):
            await self.rotate()
            return
        self._keys = {r.kid: _load(r.kid, r.private_pem) for r in rows}
        self._current = [self._keys[r.kid] for r in rows if r.retired_at is None][-1]

    async def rotate(self) -> SigningKey:
        """Adds a new signing key; older keys keep verifying the tokens they signed."""
        private = ec.generate_private_key(ec.SECP256R1())
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        kid = uuid.uuid4().hex
        async with self.db.transaction() as conn:
            await conn.execute(
                sa.insert(signing_keys).values(kid=kid, private_pem=pem, created_at=utcnow())
            )
        key = SigningKey(kid, private)
        self._keys[kid] = key
        self._current = key
        return key

    @property
    def current(self) -> SigningKey:
        assert self._current is not None, "KeyStore.load() was not called"
        return self._current

    async def verification_key(self, kid: str) -> ec.EllipticCurvePublicKey | None:
        # Another replica may have rotated; reload at most every few seconds so that
        # tokens with made-up key ids cannot drive the database.
        if kid not in self._keys and time.monotonic() - self._loaded_at > 5:
            await self.load()
        key = self._keys.get(kid)
        return key.private_key.public_key() if key else None

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk for k in self._keys.values()]}
