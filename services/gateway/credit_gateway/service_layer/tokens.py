"""Issuing and verifying the gateway's short-lived ES256 access tokens."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

import jwt

from credit_common.timeutil import utcnow
from credit_gateway.adapters.keys import KeyStore
from credit_gateway.domain.access import Caller
from credit_gateway.service_layer.clients import Client, Clients

VERIFIED_FOR = 60.0
MAX_VERIFIED = 10_000


class TokenError(Exception):
    """A token that must not be honoured; the message says why (never the token)."""


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str


class Tokens:
    def __init__(
        self, keys: KeyStore, clients: Clients, *, issuer: str, audience: str, ttl_seconds: int
    ) -> None:
        self.keys = keys
        self.clients = clients
        self.issuer = issuer
        self.audience = audience
        self.ttl = ttl_seconds
        # Tokens whose signature, issuer and audience were checked, with the claims, until
        # the earlier of their expiry and VERIFIED_FOR seconds: an ES256 check costs ~0.4 ms
        # and a client sends the same token until it expires. Revocation is the client
        # check's, which runs every time.
        self._verified: dict[str, tuple[float, dict[str, Any]]] = {}

    def issue(self, client: Client, requested: set[str] | None) -> IssuedToken:
        """Issues a token with the requested scopes (all the client's when none are asked)."""
        granted = client.scopes if requested is None else client.scopes & requested
        now = utcnow()
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": client.client_id,
            "iat": now,
            "nbf": now,
            "exp": now + dt.timedelta(seconds=self.ttl),
            "scope": " ".join(sorted(granted)),
            "dept": client.department,
            "subject_code": client.subject_code,
        }
        key = self.keys.current
        token = jwt.encode(claims, key.private_key, algorithm="ES256", headers={"kid": key.kid})
        return IssuedToken(token, self.ttl, claims["scope"])  # type: ignore[arg-type]

    async def verify(self, token: str) -> Caller:
        """Checks signature, algorithm, issuer, audience, expiry and that the client is not revoked."""
        now = time.time()
        cached = self._verified.get(token)
        if cached is not None and cached[0] > now:
            claims = cached[1]
        else:
            claims = await self._checked_claims(token)
            if len(self._verified) >= MAX_VERIFIED:
                self._verified.clear()
            self._verified[token] = (min(float(claims["exp"]), now + VERIFIED_FOR), claims)
        return await self._caller(claims)

    async def _checked_claims(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise TokenError("malformed token") from error
        if header.get("alg") != "ES256":
            raise TokenError("token algorithm not accepted")
        key = await self.keys.verification_key(str(header.get("kid", "")))
        if key is None:
            raise TokenError("token signed with an unknown key")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["ES256"],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise TokenError("token expired") from error
        except jwt.InvalidAudienceError as error:
            raise TokenError("token is for another audience") from error
        except jwt.PyJWTError as error:
            raise TokenError("invalid token") from error
        return claims

    async def _caller(self, claims: dict[str, Any]) -> Caller:
        client = await self.clients.current(claims["sub"])
        if client is None or not client.active:
            raise TokenError("client revoked")
        scopes = frozenset(str(claims.get("scope", "")).split()) & client.scopes
        return Caller(
            client.client_id,
            client.department,
            scopes,
            client.subject_code,
            client.rate_per_second,
            client.rate_burst,
        )
