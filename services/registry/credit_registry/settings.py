"""The registry's settings, read from CREDIT_REGISTRY_* variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from credit_common.settings import DEV_SECRET_MARKER, BackendSettings


class RegistrySettings(BackendSettings):
    model_config = SettingsConfigDict(env_prefix="CREDIT_REGISTRY_", extra="ignore")

    service_name: str = "registry"
    grpc_port: int = 50051
    # New organisation-code bodies: prefix + base-31 counter in [start, end].
    allocation_prefix: str = "MA"
    allocation_start: int = 1
    allocation_end: int = 31**6 - 1
    # Legally issued codes that fail the check character, comma-separated.
    code_exceptions: str = "91350100M0001TGQXM"
    # Identity-number protection: AES-GCM key and HMAC key (any string; hashed to 32 bytes).
    pii_encryption_key: str = Field(default=f"{DEV_SECRET_MARKER}-pii-encryption")
    pii_hmac_key: str = Field(default=f"{DEV_SECRET_MARKER}-pii-hmac")
    # Former encryption keys, still read, never written (a JSON list): keep them until
    # `python -m credit_registry rekey` has moved every identity number to the current key.
    pii_encryption_old_keys: list[str] = Field(default_factory=list)
    max_batch: int = 10_000

    @property
    def exceptions(self) -> frozenset[str]:
        return frozenset(c.strip().upper() for c in self.code_exceptions.split(",") if c.strip())
