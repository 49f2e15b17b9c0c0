"""Typed settings read from the environment with a service prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings

DEV_SECRET_MARKER = "dev-only"


class ServiceSettings(BaseSettings):
    """What every service reads; each service subclasses it with its own env prefix."""

    environment: Literal["development", "production"] = "development"
    database_url: str = ""
    # Connections this process keeps to its PostgreSQL database (no more are opened; a
    # request waits up to 10 s for one). Every replica of every service on one server
    # counts against its max_connections (100 by default).
    database_pool_size: int = Field(default=20, ge=1, le=500)
    redis_url: str = ""
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 0
    # Port of the Prometheus /metrics of a gRPC service (its calls, the events it publishes
    # and consumes), bound on grpc_host; 0: none (nothing counted per call).
    metrics_port: int = Field(default=0, ge=0, le=65535)
    var_dir: Path = Path("var")
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    shutdown_grace_seconds: float = 5.0

    service_name: str = "service"

    def sqlite_default(self) -> str:
        """The embedded default: one SQLite file per service under ./var/."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{(self.var_dir / f'{self.service_name}.db').resolve()}"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or self.sqlite_default()

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> ServiceSettings:
        if self.environment == "production":
            for name, value in self.model_dump().items():
                if isinstance(value, str) and DEV_SECRET_MARKER in value:
                    raise ValueError(f"{name} holds a development placeholder in production")
                if name.endswith(("_key", "_secret")) and not value:
                    raise ValueError(f"{name} must be set in production")
            if not self.database_url:
                raise ValueError("database_url must be set in production")
        return self


class BackendSettings(ServiceSettings):
    """What every gRPC service behind the gateway reads besides: how long its event tables
    keep what is done with (credit_common.pruning)."""

    # Days an outbox row is kept once published: the window in which events can be
    # published again after Redis lost data (docs/operations.md, Redis).
    outbox_keep_days: float = Field(default=7.0, ge=1.0)
    # Days the mark of an applied event (processed_events: the dedupe by event id) is
    # kept; no shorter than outbox_keep_days (an event published again is skipped). An
    # event delivered again after its mark went is applied again: see docs/operations.md.
    processed_keep_days: float = Field(default=30.0, ge=1.0)
    # Seconds between two prunings of those tables.
    prune_every_seconds: float = Field(default=3600.0, gt=0.0)

    @model_validator(mode="after")
    def _marks_outlive_the_outbox(self) -> BackendSettings:
        if self.processed_keep_days < self.outbox_keep_days:
            raise ValueError(
                "processed_keep_days must be at least outbox_keep_days: an event published"
                " again from the outbox would find its mark gone and be applied twice"
            )
        return self
