"""Identity numbers: AES-GCM encryption under a key ring, and a keyed hash (HMAC) for lookup.

Ciphertexts:
- version 2 (written now): 0x02, the key's 4-byte id, a 12-byte nonce, the AES-GCM output;
- version 1 (written before key rotation existed): 0x01, nonce, output; no key id, so it is
  tried with the current key, then with each old key.
The current key encrypts; old keys (kept while `python -m credit_registry rekey` moves their
ciphertexts to the current key) only decrypt."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_V1 = b"\x01"
_V2 = b"\x02"
_AAD = b"id_number"


def _key(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def key_id(secret: str) -> bytes:
    """Four bytes that name a key inside its ciphertexts (a hash of it, not the key)."""
    return hashlib.sha256(b"credit-pii-key-id:" + _key(secret)).digest()[:4]


class UnknownKey(ValueError):
    pass


class IdentityProtector:
    def __init__(
        self, encryption_key: str, hmac_key: str, old_encryption_keys: Sequence[str] = ()
    ) -> None:
        self._current_id = key_id(encryption_key)
        self._current = AESGCM(_key(encryption_key))
        self._ring = {self._current_id: self._current}
        for old in old_encryption_keys:
            self._ring.setdefault(key_id(old), AESGCM(_key(old)))
        self._hmac_key = _key(hmac_key)

    def lookup_key(self, id_number: str) -> str:
        digest = hmac.new(self._hmac_key, id_number.upper().encode(), hashlib.sha256).hexdigest()
        return f"P{digest.upper()}"  # upper case: codes are normalised to upper case

    def encrypt(self, id_number: str) -> bytes:
        nonce = os.urandom(12)
        return (
            _V2 + self._current_id + nonce + self._current.encrypt(nonce, id_number.encode(), _AAD)
        )

    def decrypt(self, blob: bytes) -> str:
        version = blob[:1]
        if version == _V2:
            aead = self._ring.get(blob[1:5])
            if aead is None:
                raise UnknownKey("identity cipher under a key this registry does not hold")
            return aead.decrypt(blob[5:17], blob[17:], _AAD).decode()
        if version == _V1:
            for aead in self._ring.values():  # the current key first
                try:
                    return aead.decrypt(blob[1:13], blob[13:], _AAD).decode()
                except InvalidTag:
                    continue
            raise UnknownKey("identity cipher (version 1) that no key of this registry opens")
        raise ValueError("unknown identity cipher version")

    def current(self, blob: bytes) -> bool:
        """Whether the blob is already under the current key, in the current format."""
        return blob[:1] == _V2 and blob[1:5] == self._current_id

    def rekey(self, blob: bytes) -> bytes:
        """The same number under the current key."""
        return self.encrypt(self.decrypt(blob))
