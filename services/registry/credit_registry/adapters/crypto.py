"""Identity numbers: AES-GCM encryption and a keyed hash (HMAC) for lookup."""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = b"\x01"


def _key(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class IdentityProtector:
    def __init__(self, encryption_key: str, hmac_key: str) -> None:
        self._aead = AESGCM(_key(encryption_key))
        self._hmac_key = _key(hmac_key)

    def lookup_key(self, id_number: str) -> str:
        digest = hmac.new(self._hmac_key, id_number.upper().encode(), hashlib.sha256).hexdigest()
        return f"P{digest.upper()}"  # upper case: codes are normalised to upper case

    def encrypt(self, id_number: str) -> bytes:
        nonce = os.urandom(12)
        return _VERSION + nonce + self._aead.encrypt(nonce, id_number.encode(), b"id_number")

    def decrypt(self, blob: bytes) -> str:
        if blob[:1] != _VERSION:
            raise ValueError("unknown identity cipher version")
        return self._aead.decrypt(blob[1:13], blob[13:], b"id_number").decode()
