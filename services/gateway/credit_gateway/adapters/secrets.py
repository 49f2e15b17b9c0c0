"""Client secrets: generated at random, stored only as a salted scrypt hash."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import secrets
from concurrent.futures import ThreadPoolExecutor

_N, _R, _P = 2**14, 8, 1

# A hash costs some 40 ms of a core (scrypt lets go of the GIL meanwhile). Those of token
# requests are computed on these threads, on at most half the cores, so that no flood of
# them holds the event loop or every core.
_HASHERS = ThreadPoolExecutor(
    max_workers=min(4, max(1, (os.cpu_count() or 2) // 2)), thread_name_prefix="secret-hash"
)


def new_secret() -> str:
    """32 random bytes, URL-safe. The prefix keeps a secret from beginning with "-", which
    a command line (`credit client create --admin-secret …`) would take for an option."""
    return "cs_" + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def verify_secret(secret: str, stored: str) -> bool:
    try:
        _scheme, salt_b64, digest_b64 = stored.split("$")
        salt, digest = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
    except ValueError:
        return False
    candidate = hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return hmac.compare_digest(candidate, digest)


async def verify_secret_off_loop(secret: str, stored: str) -> bool:
    """`verify_secret` on one of the hashing threads, the event loop free meanwhile."""
    return await asyncio.get_running_loop().run_in_executor(_HASHERS, verify_secret, secret, stored)


class Recognised:
    """The secrets this process has verified lately, each client's last, kept as a keyed
    hash (HMAC-SHA256 under a key of this process's own, never stored) beside the stored
    scrypt hash it matched: the same secret presented again is recognised in microseconds,
    without scrypt, while a changed stored hash (a new secret) or another secret is not.
    So a flood of wrong secrets, which each cost scrypt, does not make clients that have
    authenticated before wait for the hashing threads."""

    def __init__(self, size: int = 10_000) -> None:
        self._key = os.urandom(32)
        self._size = size
        self._known: dict[str, tuple[str, bytes]] = {}

    def _mac(self, secret: str) -> bytes:
        return hmac.new(self._key, secret.encode(), hashlib.sha256).digest()

    def knows(self, client_id: str, secret: str, stored: str) -> bool:
        known = self._known.get(client_id)
        return (
            known is not None
            and hmac.compare_digest(known[0], stored)
            and hmac.compare_digest(known[1], self._mac(secret))
        )

    def remember(self, client_id: str, secret: str, stored: str) -> None:
        if len(self._known) >= self._size and client_id not in self._known:
            self._known.pop(next(iter(self._known)))  # the one remembered longest ago
        self._known[client_id] = (stored, self._mac(secret))
