"""Alembic helpers: each service has its own migrations and its own version table."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from credit_common.db import sync_url


def alembic_config(database_url: str, script_location: Path, version_table: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", sync_url(database_url).replace("%", "%%"))
    config.attributes["version_table"] = version_table
    return config


def upgrade(database_url: str, script_location: Path, version_table: str) -> None:
    command.upgrade(alembic_config(database_url, script_location, version_table), "head")
