"""The database engine, a UTC datetime type that holds on both dialects, and the unit of work.

Reading many rows: the repositories fetch the rows they turn into objects as mappings
(`result.mappings()`, made as the rows are fetched, no dearer than plain rows) and read them
by key (~0.15 µs). With SQLAlchemy 2.1 a Row's `row.name` reaches Row.__getattr__ only after
a failed lookup through its class and bases (~0.8 µs a column: ~20 µs for a record's 22),
and a Row's `_mapping` is made anew each time it is asked for (~2 µs)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json as _json
import os
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from credit_common import telemetry
from credit_common.text import trigram_similarity
from credit_common.timeutil import UTC, as_utc


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """Aware datetimes in, aware UTC datetimes out, whatever the dialect stores."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if type(value) is dt.datetime and value.tzinfo is UTC:  # PostgreSQL (make_engine)
            return value
        moment: dt.datetime = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class GUID(sa.types.TypeDecorator[uuid.UUID]):
    """UUID as native uuid on PostgreSQL and 36-character text on SQLite."""

    impl = sa.String(36)
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.UUID(as_uuid=True))
        return dialect.type_descriptor(sa.String(36))

    def process_bind_param(self, value: uuid.UUID | str | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        value = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
        return value if dialect.name == "postgresql" else str(value)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> uuid.UUID | None:
        if value is None:
            return None
        return value if isinstance(value, uuid.UUID) else uuid.UUID(value)

    def result_processor(self, dialect: sa.Dialect, coltype: Any) -> Any:
        """None on PostgreSQL, whose driver gives uuid.UUID already: no Python call per value
        (a subject's records carry three UUID columns a row)."""
        if dialect.name == "postgresql":
            return self.load_dialect_impl(dialect).result_processor(dialect, coltype)
        return super().result_processor(dialect, coltype)


def sync_url(url: str) -> str:
    """The same database through a synchronous driver (for Alembic)."""
    return url.replace("sqlite+aiosqlite", "sqlite")


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    raw = getattr(dbapi_connection, "driver_connection", dbapi_connection)
    raw = getattr(raw, "_conn", raw)  # aiosqlite wraps the sqlite3 connection
    if hasattr(raw, "create_function"):
        raw.create_function("similarity", 2, trigram_similarity, deterministic=True)


def utc_session_options(url: str) -> str:
    """libpq's `options` for a PostgreSQL URL, with the session's time zone set to UTC after
    the options the URL gives (all of them, when given more than once), or else those of
    the PGOPTIONS environment variable, which an explicit `options` would override.
    Timestamps then come from psycopg in UTC, as UTCDateTime hands them out: psycopg
    converts each one to the session's zone (a ZoneInfo such as Etc/UTC: 0.63 µs a value,
    against 0.31 in UTC) and UTCDateTime back to UTC (0.3 µs, against nothing). The
    instants are the same in any zone, and no statement here depends on the session's zone:
    no moment is cast to a date in SQL, and the moments the registry's JSON aggregates
    write carry their offset, which is read back."""
    given = sa.engine.make_url(url).query.get("options", ())
    parts = [given] if isinstance(given, str) else list(given)
    if not parts:
        parts = [os.environ.get("PGOPTIONS", "")]
    return " ".join([p for p in parts if p] + ["-c TimeZone=UTC"])


# How long a new PostgreSQL connection may take (libpq's connect_timeout; psycopg's own
# default is 130 s): a server that accepts TCP and never answers fails a request in this
# time, as unavailable, instead of holding it. And TCP keepalives: a connection whose
# server is gone without a word (a host down, a network cut, a failover) is found dead
# after about a minute of silence rather than the kernel's two hours. The server's kernel
# answers keepalives whatever its backend is doing, so a long migration or COPY is not cut.
CONNECT_TIMEOUT_SECONDS = 5
_POSTGRES_CONNECTION_DEFAULTS = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


def postgres_connect_args(url: str) -> dict[str, Any]:
    """libpq parameters of the services' PostgreSQL connections: the session options (UTC,
    `utc_session_options`), a connect timeout and TCP keepalives. What the URL gives
    itself is kept (`?connect_timeout=10`), as is a PGCONNECT_TIMEOUT environment
    variable; `CONNECT_TIMEOUT_SECONDS` otherwise."""
    given = sa.engine.make_url(url).query
    args: dict[str, Any] = {"options": utc_session_options(url)}
    if "connect_timeout" not in given and not os.environ.get("PGCONNECT_TIMEOUT"):
        args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    for name, value in _POSTGRES_CONNECTION_DEFAULTS.items():
        if name not in given:
            args[name] = value
    return args


def make_engine(url: str, *, pool_size: int = 20) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
    else:
        # No pre-ping (a round trip per checkout on the hot path): connections are recycled
        # instead, and a dead one fails its request, which callers retry. No overflow: under
        # load, overflow connections were opened and closed for each request (a PostgreSQL
        # backend started every time); requests wait for one of the pool's instead.
        engine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=10,
            pool_recycle=1800,
            connect_args=postgres_connect_args(url),
        )
    telemetry.instrument_engine(engine.sync_engine)
    return engine


class JsonText(str):
    """A JSON column's value already encoded as JSON text (see `insert_rows`)."""


async def insert_rows(
    conn: AsyncConnection, table: sa.Table, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Inserts many rows in the caller's transaction: COPY on PostgreSQL (an executemany
    there is still one INSERT per row), executemany on SQLite. Values go to the driver as
    they are, but for JSON columns, which are wrapped for psycopg here; a JsonText value
    is copied as the text it is, not encoded again."""
    if not rows:
        return
    if conn.dialect.name != "postgresql" or len(rows) == 1:
        decoded = [
            {k: _json.loads(v) if isinstance(v, JsonText) else v for k, v in row.items()}
            for row in rows
        ]
        await conn.execute(sa.insert(table), decoded)
        return
    columns = list(rows[0])
    await _copy(conn, table, columns, ([row[c] for c in columns] for row in rows))


async def insert_values(
    conn: AsyncConnection, table: sa.Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """`insert_rows` for rows given as values in the order of `columns`: on PostgreSQL no
    dict is made a row (the query audit writes 10,000 entries for one batch check)."""
    if conn.dialect.name != "postgresql" or len(rows) == 1:
        await insert_rows(conn, table, [dict(zip(columns, row, strict=True)) for row in rows])
        return
    await _copy(conn, table, list(columns), (list(row) for row in rows))


async def _copy(
    conn: AsyncConnection, table: sa.Table, columns: list[str], rows: Iterable[list[Any]]
) -> None:
    """COPY of rows of values in the order of `columns` (PostgreSQL)."""
    from psycopg.types.json import Jsonb

    json = {i for i, name in enumerate(columns) if isinstance(table.c[name].type, sa.JSON)}
    async with _copy_into(conn, table, columns) as copy:
        for values in rows:
            for i in json:
                if not isinstance(values[i], JsonText):
                    values[i] = Jsonb(values[i])
            await copy.write_row(values)


@asynccontextmanager
async def _copy_into(
    conn: AsyncConnection, table: sa.Table, columns: Sequence[str]
) -> AsyncIterator[Any]:
    """psycopg's COPY … FROM STDIN into `table`'s `columns`, on the connection's driver."""
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    async with driver.cursor() as cursor:
        statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
        async with cursor.copy(statement) as copy:
            yield copy


def copy_escape(value: str) -> str:
    """A text value as a field of a COPY text line: a backslash, tab, newline or carriage
    return in it written as its backslash escape (NUL cannot be stored and is refused
    before). Most values hold none and are given back after four searches: `str.translate`
    looked each character up in its table, 26 µs for a record's 300 characters of Chinese
    JSON, 1.4 µs for a short code (0.3 and 0.1 µs so)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return (
            value.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return value


async def copy_lines(
    conn: AsyncConnection, table: sa.Table, columns: Sequence[str], data: str
) -> None:
    """COPY of lines already in PostgreSQL's text format (fields tab-separated, each
    through `copy_escape`, every line ending in a newline), for writers that make their
    lines faster than row by row (psycopg's `write_row` formats each value on its own).
    Given as text, encoded by psycopg in the connection's client encoding."""
    async with _copy_into(conn, table, columns) as copy:
        await copy.write(data)


_FEW = 50  # up to this many values, `= ANY(array)` (0.17 ms a lookup against 0.26)


def among(
    dialect: str, column: sa.ColumnElement[Any], values: Sequence[Any], item_type: Any
) -> sa.ColumnElement[bool]:
    """column IN values, for thousands of values. On PostgreSQL one array parameter,
    unnested in a subquery: PostgreSQL then looks each value up in the column's index.
    Given `column = ANY(array)` instead, it planned a parallel scan of the whole table
    once the array held some thousands of values (10,000 codes against 1,000,000
    subjects: three processes busy for 65 ms rather than one for 75 ms). Elsewhere a
    plain IN list (keep it under SQLite's 999 parameters). A few values (a single lookup)
    keep `= ANY(array)`, which PostgreSQL plans in less time."""
    if dialect == "postgresql":
        array: sa.ColumnElement[Any] = sa.bindparam(
            None, list(values), type_=postgresql.ARRAY(item_type)
        )
        if len(values) <= _FEW:
            return column == sa.any_(array)  # type: ignore[no-any-return]
        if all(type(v) is uuid.UUID for v in values):
            # One text parameter cast on the server: psycopg's array dumper spent 1 µs
            # on each UUID (a tenth of the lists service's work in a 10,000-code check).
            # Each as its 32 hex digits, which PostgreSQL reads as a UUID too (0.4 µs a
            # value against 1 µs for str()).
            literal = "{" + ",".join([v.hex for v in values]) + "}"
            array = sa.cast(sa.bindparam(None, literal, type_=sa.Text), postgresql.ARRAY(item_type))
        elif all(type(v) is str for v in values):
            # Likewise for text (codes, keys: 7 ms for 10,000 through the dumper, 0.8 ms
            # so): each element quoted, a backslash or a double quote in it escaped, which
            # is all an array literal's quoted element needs.
            quoted = [v.replace("\\", "\\\\").replace('"', '\\"') for v in values]
            literal = '{"' + '","'.join(quoted) + '"}'
            array = sa.cast(sa.bindparam(None, literal, type_=sa.Text), postgresql.ARRAY(item_type))
        return column.in_(sa.select(sa.func.unnest(array)))
    return column.in_(list(values))


def in_batch(
    dialect: str, key: sa.ColumnElement[Any], batch: sa.Select[Any]
) -> sa.ColumnElement[bool]:
    """`key` among the rows `batch` picks (a LIMIT, and FOR UPDATE SKIP LOCKED on
    PostgreSQL), for an UPDATE of that batch. On PostgreSQL `key IN (batch)` may be planned
    as a join that runs the locking subquery again for each row updated: each run skips
    the rows this statement has updated already and takes the next ones, so the LIMIT
    bounds nothing (a batch of 2 updated all 5 rows due). ARRAY(batch) is run once, before
    the update. Elsewhere (SQLite: no FOR UPDATE) a plain IN."""
    if dialect == "postgresql":
        return key == sa.any_(sa.func.array(batch.scalar_subquery()))  # type: ignore[no-any-return]
    return key.in_(batch.scalar_subquery())


# SQLSTATE classes and codes of a database that cannot serve just now: connection exceptions
# (08), a transaction rolled back (40: serialization failure, deadlock), operator
# intervention (57P: shut down, restarting, dropped) and too many connections (53300).
_UNAVAILABLE_SQLSTATES = ("08", "40", "57P", "53300")
_PSYCOPG_UNAVAILABLE = ("connection failed", "connection timeout expired")
_SQLITE_UNAVAILABLE = ("unable to open database file", "database is locked")


def unavailable(error: BaseException) -> bool:
    """Whether a database error means the database could not be used just now, so that
    asking again later may work (answered as UNAVAILABLE or 503): no connection to be had
    (refused, none free in the pool in time, lost), or the transaction rolled back by the
    server. (A connection lost during a COMMIT leaves that commit's outcome unknown.) A
    statement's own fault (a syntax error, a missing table, a statement cancelled by its
    timeout, a full disk) is not: that is a bug or an operator's matter, not a reason for
    the caller to retry."""
    if isinstance(error, sa_exc.TimeoutError):  # no connection free in the pool in time
        return True
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    original = error.orig
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate:
        return str(sqlstate).startswith(_UNAVAILABLE_SQLSTATES)
    if isinstance(error, sa_exc.OperationalError):
        # psycopg gives connection failures no SQLSTATE; SQLite says it in words.
        message = str(original).lower()
        return message.startswith(_PSYCOPG_UNAVAILABLE) or any(
            text in message for text in _SQLITE_UNAVAILABLE
        )
    return False


def refused_value(error: BaseException) -> str | None:
    """What the database said of a value it cannot take, or None for other errors: a data
    exception (SQLSTATE class 22: a text longer than its column, a number out of its type's
    range, a NUL, which psycopg refuses before sending). The caller's input, not a fault of
    the service: the callers' own checks should have said so, and this answers for any they
    lack (the statement failed, so its transaction stores nothing)."""
    import psycopg

    if isinstance(error, sa_exc.DataError):
        original: BaseException | None = error.orig
    elif isinstance(error, psycopg.DataError):  # a COPY runs on psycopg's own connection
        original = error
    else:
        return None
    diag = getattr(original, "diag", None)
    said = getattr(diag, "message_primary", None) if diag is not None else None
    lines = str(said or original).strip().splitlines()
    return lines[0] if lines else "a value of the wrong form or range"


def dialect_insert(table: sa.Table, engine_dialect: str) -> Any:
    """The dialect's INSERT of `table`, which has ON CONFLICT on either dialect."""
    if engine_dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_ignore(table: sa.Table, engine_dialect: str) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING on either dialect."""
    return dialect_insert(table, engine_dialect).on_conflict_do_nothing()


async def advisory_lock(conn: AsyncConnection, *names: str) -> None:
    """Holds each name, till the transaction ends, against another transaction holding it
    (PostgreSQL transaction-level advisory locks on 64 bits of a hash of the name; a
    collision only makes two names take turns), taken in one order so that two holders
    of shared names wait for each other rather than deadlock. Nothing on SQLite, whose
    writers take turns anyway: there a caller writes before it reads what the lock guards
    (the write lock is taken at a transaction's first write)."""
    if conn.dialect.name != "postgresql":
        return
    for name in sorted(set(names)):
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        await conn.execute(
            sa.select(sa.func.pg_advisory_xact_lock(sa.literal(key, sa.BigInteger())))
        )


# The Databases whose writer turn the current task holds (SQLite), so that a transaction
# it opens inside another does not wait for itself.
_writing: ContextVar[frozenset[int]] = ContextVar("credit_db_writing", default=frozenset())


class Database:
    """One service's database: the engine and transactions over it.

    SQLite lets one transaction write at a time. The transactions of one process take
    their turns in the order they asked (an asyncio lock) rather than in SQLite's busy
    handler, which retries a waiting writer at growing intervals (up to 100 ms each) so
    that it can lose to later writers again and again: eight registrations at once took up
    to 1.24 s each where one alone took 23 ms, past the gateway's 2 s deadline on a loaded
    machine. Another process writing the same file still waits in the busy handler."""

    def __init__(self, url: str, *, pool_size: int = 20) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size)
        self._writers = asyncio.Lock() if self.engine.dialect.name == "sqlite" else None
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        if self.engine.dialect.name == "postgresql":
            self._snapshot = self.engine.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        else:
            self._snapshot = self.engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that commits when the block ends normally and rolls back otherwise
        (on SQLite, once this process's earlier writers are done: see the class)."""
        if self._writers is None or id(self) in _writing.get():
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._writers:
            turn = _writing.set(_writing.get() | {id(self)})
            try:
                async with self.engine.begin() as conn:
                    yield conn
            finally:
                _writing.reset(turn)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection outside any transaction: each statement sees the latest committed
        data, and there is no BEGIN or ROLLBACK round trip. For a single statement, or
        statements that need not agree with each other; otherwise use `snapshot`."""
        async with self._autocommit.connect() as conn:
            yield conn

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction whose statements all see one committed state
        (REPEATABLE READ on PostgreSQL; on SQLite an explicit BEGIN, as the driver starts
        none for reads, and its WAL reader then keeps one snapshot until the end).

        It ends with COMMIT, not the pool's ROLLBACK: psycopg forgets every prepared
        statement of a connection on ROLLBACK (and deallocates them on the server), so reads
        that ended so were parsed and planned anew each time, however often they ran. For
        reads only: PostgreSQL refuses a write in it, SQLite would keep one."""
        async with self._snapshot.connect() as conn:
            if conn.dialect.name == "sqlite":
                await conn.exec_driver_sql("BEGIN")
            yield conn
            await conn.commit()

    async def dispose(self) -> None:
        await self.engine.dispose()
