"""The objections service's settings, read from CREDIT_OBJECTIONS_* variables."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from credit_common.settings import BackendSettings


class ObjectionsSettings(BackendSettings):
    model_config = SettingsConfigDict(env_prefix="CREDIT_OBJECTIONS_", extra="ignore")

    service_name: str = "objections"
    grpc_port: int = 50054
    registry_address: str = "127.0.0.1:50051"
    records_address: str = "127.0.0.1:50052"
    lists_address: str = "127.0.0.1:50053"
    backend_deadline_seconds: float = 5.0
    # Working days for each stage (DOMAIN.md, objections and their clock).
    accept_workdays: int = 2
    verify_workdays: int = 5
    decide_workdays: int = 3
    repair_decide_workdays: int = 10
    # Whether this process runs the event consumers (vanished targets, subject merges).
    consume_events: bool = True
