"""The lists service's settings, read from CREDIT_LISTS_* variables."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from credit_common.settings import BackendSettings


class ListsSettings(BackendSettings):
    model_config = SettingsConfigDict(env_prefix="CREDIT_LISTS_", extra="ignore")

    service_name: str = "lists"
    grpc_port: int = 50053
    registry_address: str = "127.0.0.1:50051"
    records_address: str = "127.0.0.1:50052"
    backend_deadline_seconds: float = 5.0
    # How often the clock looks for due transitions (seconds); reads never wait for it.
    clock_every_seconds: float = 1.0
    clock_batch: int = 5000
    consume_events: bool = True
