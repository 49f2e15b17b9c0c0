"""The records service's settings, read from CREDIT_RECORDS_* variables."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from credit_common.settings import BackendSettings


class RecordsSettings(BackendSettings):
    model_config = SettingsConfigDict(env_prefix="CREDIT_RECORDS_", extra="ignore")

    service_name: str = "records"
    grpc_port: int = 50052
    registry_address: str = "127.0.0.1:50051"
    registry_deadline_seconds: float = 5.0
    # Rejected rows listed in a bulk answer (all are counted).
    max_listed_rejections: int = 10_000
    # Whether this process runs the event consumers (subject merges, objections, repairs,
    # the listings of "while listed" records).
    consume_events: bool = True
    # Seconds between two sweeps for records past their retention (record.expired). A
    # record expires at midnight in China; told within this many seconds of it.
    expiry_every_seconds: float = 60.0
