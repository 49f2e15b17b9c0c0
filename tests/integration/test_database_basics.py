"""The shared database layer keeps time zones and foreign keys on both dialects."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import json
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.dialects import postgresql

from credit_common.db import (
    CONNECT_TIMEOUT_SECONDS,
    GUID,
    Database,
    JsonText,
    UTCDateTime,
    among,
    insert_rows,
    insert_values,
    postgres_connect_args,
    unavailable,
    utc_session_options,
)
from credit_common.settings import ServiceSettings
from credit_registry.adapters import tables
from credit_registry.bootstrap import RegistryApp
from support.backends import BACKEND, PG_ADMIN_DSN, take_away

metadata = sa.MetaData()
moments = sa.Table(
    "moments",
    metadata,
    sa.Column("id", GUID(), primary_key=True),
    sa.Column("at", UTCDateTime(), nullable=False),
)


async def test_an_aware_time_comes_back_as_the_same_instant_in_utc(database_url: str) -> None:
    db = Database(database_url)
    try:
        async with db.transaction() as conn:
            await conn.run_sync(metadata.create_all)
            shanghai = dt.timezone(dt.timedelta(hours=8))
            written = dt.datetime(2026, 3, 31, 23, 30, tzinfo=shanghai)
            await conn.execute(sa.insert(moments).values(id=uuid.uuid4(), at=written))
        async with db.read() as conn:
            read = await conn.scalar(sa.select(moments.c.at))
            later = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(moments)
                .where(moments.c.at > dt.datetime(2026, 3, 31, 15, 0, tzinfo=dt.UTC))
            )
        assert read == written and read.tzinfo == dt.UTC and read.hour == 15
        assert later == 1
    finally:
        await db.dispose()


async def test_postgresql_sessions_run_in_utc_whatever_the_server_zone(database_url: str) -> None:
    """A database whose sessions default to Shanghai time: the services' sessions run in UTC
    (moments come from the driver in UTC, no conversion after), keeping the options the
    URL gives."""
    if not database_url.startswith("postgresql"):
        pytest.skip("session options are PostgreSQL's")
    name = sa.engine.make_url(database_url).database
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE \"{name}\" SET TimeZone = 'Asia/Shanghai'")
    db = Database(f"{database_url}?options=-c%20statement_timeout%3D4321")
    try:
        async with db.transaction() as conn:
            await conn.run_sync(metadata.create_all)
            written = dt.datetime(2026, 3, 31, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
            await conn.execute(sa.insert(moments).values(id=uuid.uuid4(), at=written))
        async with db.read() as conn:
            zone = await conn.scalar(sa.text("SHOW TimeZone"))
            timeout = await conn.scalar(sa.text("SHOW statement_timeout"))
            raw = await conn.scalar(sa.select(sa.cast(moments.c.at, sa.DateTime(timezone=True))))
            read = await conn.scalar(sa.select(moments.c.at))
        assert (zone, timeout) == ("UTC", "4321ms")
        assert raw.tzinfo is dt.UTC and read.tzinfo is dt.UTC and read == written
    finally:
        await db.dispose()
    with psycopg.connect(PG_ADMIN_DSN, dbname=name) as plain:
        assert plain.execute("SHOW TimeZone").fetchone() == ("Asia/Shanghai",)


def test_utc_session_options_follow_those_the_url_or_pgoptions_give(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An explicit `options` overrides PGOPTIONS in libpq, so those are kept when the URL
    gives none; every `options` the URL gives is kept; UTC comes last, so it wins."""
    monkeypatch.delenv("PGOPTIONS", raising=False)
    url = "postgresql+psycopg://h/d"
    assert utc_session_options(url) == "-c TimeZone=UTC"
    both = f"{url}?options=-c%20a%3D1&options=-c+TimeZone%3DAsia/Shanghai"
    assert utc_session_options(both) == "-c a=1 -c TimeZone=Asia/Shanghai -c TimeZone=UTC"
    monkeypatch.setenv("PGOPTIONS", "-c b=2")
    assert utc_session_options(url) == "-c b=2 -c TimeZone=UTC"
    assert utc_session_options(f"{url}?options=-c%20a%3D1") == "-c a=1 -c TimeZone=UTC"


def test_guid_leaves_postgresql_uuids_to_the_driver_and_converts_text_elsewhere() -> None:
    from sqlalchemy.dialects.postgresql import psycopg
    from sqlalchemy.dialects.sqlite import aiosqlite

    assert GUID().result_processor(psycopg.dialect(), None) is None
    convert = GUID().result_processor(aiosqlite.dialect(), None)
    value = uuid.uuid4()
    assert convert is not None and convert(str(value)) == value and convert(None) is None


async def test_rows_read_as_mappings_give_each_column_labels_included(
    database_url: str,
) -> None:
    """The repositories read rows as mappings by key (`.mappings()`): each column as the
    row has it, a label with its own value, in the select's order."""
    db = Database(database_url)
    try:
        written = {"id": uuid.uuid4(), "at": dt.datetime(2026, 3, 31, 15, 30, tzinfo=dt.UTC)}
        async with db.transaction() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(sa.insert(moments).values(**written))
        async with db.read() as conn:
            query = sa.select(moments.c.at, sa.literal("K-1").label("filed_key"), moments.c.id)
            row = (await conn.execute(query)).mappings().one()
        assert dict(row) == {**written, "filed_key": "K-1"}
        assert list(row) == ["at", "filed_key", "id"]
        assert isinstance(row["id"], uuid.UUID) and row["at"].tzinfo == dt.UTC
    finally:
        await db.dispose()


async def test_a_naive_time_is_refused_rather_than_guessed(database_url: str) -> None:
    db = Database(database_url)
    try:
        async with db.transaction() as conn:
            await conn.run_sync(metadata.create_all)
        with pytest.raises(sa.exc.StatementError):
            async with db.transaction() as conn:
                await conn.execute(
                    sa.insert(moments).values(id=uuid.uuid4(), at=dt.datetime(2026, 1, 1))
                )
    finally:
        await db.dispose()


async def test_foreign_keys_are_enforced(registry_app: RegistryApp) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        async with registry_app.db.transaction() as conn:
            await conn.execute(
                sa.insert(tables.legacy_codes).values(
                    type="org_code", value="MA8BRK2A8", subject_id=uuid.uuid4()
                )
            )


def test_production_refuses_development_secrets() -> None:
    from credit_registry.settings import RegistrySettings

    with pytest.raises(ValueError, match="development placeholder"):
        RegistrySettings(environment="production", database_url="postgresql+psycopg://db/registry")
    with pytest.raises(ValueError, match="database_url"):
        ServiceSettings(environment="production")
    ok = RegistrySettings(
        environment="production",
        database_url="postgresql+psycopg://db/registry",
        pii_encryption_key="k1-from-the-vault",
        pii_hmac_key="k2-from-the-vault",
    )
    assert ok.environment == "production"


async def _count(conn: sa.ext.asyncio.AsyncConnection) -> int:
    return int(await conn.scalar(sa.select(sa.func.count()).select_from(moments)) or 0)


async def _add_moment(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute(sa.insert(moments).values(id=uuid.uuid4(), at=dt.datetime.now(dt.UTC)))


async def test_a_snapshot_sees_one_state_and_a_plain_read_sees_the_latest(
    database_url: str,
) -> None:
    db = Database(database_url)
    try:
        async with db.transaction() as conn:
            await conn.run_sync(metadata.create_all)
        await _add_moment(db)
        async with db.snapshot() as conn:
            before = await _count(conn)
            await _add_moment(db)  # committed by another connection meanwhile
            assert await _count(conn) == before
        async with db.read() as conn:
            first = await _count(conn)
            await _add_moment(db)
            assert await _count(conn) == first + 1
    finally:
        await db.dispose()


async def test_sqlite_writers_of_one_process_take_turns_in_the_order_they_asked(
    database_url: str,
) -> None:
    """With SQLite's busy handler off (busy_timeout 0), a writer that had to wait for
    another would fail with 'database is locked': none does, and they write in order."""
    if BACKEND == "postgres":
        pytest.skip("PostgreSQL writers do not take turns in the process")
    db = Database(database_url)

    def no_busy_wait(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.cursor().execute("PRAGMA busy_timeout=0")

    sa.event.listen(db.engine.sync_engine, "connect", no_busy_wait)
    order: list[int] = []

    async def write(n: int) -> None:
        async with db.transaction() as conn:
            await conn.execute(
                sa.insert(moments).values(id=uuid.uuid4(), at=dt.datetime.now(dt.UTC))
            )
            order.append(n)
            await asyncio.sleep(0.01)  # the write lock held while others ask for it
            async with db.transaction() as inner:  # the same task: no wait for itself
                await inner.execute(sa.select(1))

    try:
        async with db.transaction() as conn:
            await conn.run_sync(metadata.create_all)
        await asyncio.gather(*(write(n) for n in range(12)))
        async with db.read() as conn:
            assert await _count(conn) == 12
        assert order == list(range(12))
    finally:
        await db.dispose()


async def test_a_read_run_often_in_snapshots_is_prepared_once_and_kept(
    database_url: str,
) -> None:
    """psycopg prepares a statement after its fifth run on a connection, and forgets every
    prepared statement on ROLLBACK: snapshots end with COMMIT so theirs are kept."""
    if not database_url.startswith("postgresql"):
        pytest.skip("prepared statements are PostgreSQL's")
    db = Database(database_url, pool_size=1)  # one connection: every snapshot shares it
    try:
        async with db.transaction() as conn:
            await conn.run_sync(metadata.create_all)
        query = sa.select(sa.func.count()).select_from(moments).where(moments.c.at.is_not(None))
        for _ in range(8):
            async with db.snapshot() as conn:
                await conn.scalar(query)
        async with db.snapshot() as conn:
            prepared = await conn.scalar(
                sa.text(
                    "SELECT count(*) FROM pg_prepared_statements "
                    "WHERE statement LIKE '%FROM moments%'"
                )
            )
        assert prepared == 1
    finally:
        await db.dispose()


async def test_insert_rows_writes_every_row_as_given_json_included(database_url: str) -> None:
    local = sa.MetaData()
    blobs = sa.Table(
        "blobs",
        local,
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", GUID(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.String(40), nullable=True),
    )
    documents = sa.Table("documents", local, sa.Column("doc", sa.JSON, nullable=False))
    shanghai = dt.timezone(dt.timedelta(hours=8))
    rows = [
        {
            "id": uuid.uuid4(),
            "at": dt.datetime(2026, 1, 1, 8, i % 60, tzinfo=shanghai),
            "data": bytes([i % 256, 0, 92, 9, 10]),  # a NUL, a backslash, a tab, a newline
            "note": None if i % 3 else f"第{i}行\t\\N",
        }
        for i in range(1500)
    ]
    db = Database(database_url)
    try:
        async with db.transaction() as conn:
            await conn.run_sync(local.create_all)
            await insert_rows(conn, blobs, rows)
        async with db.read() as conn:
            stored = (await conn.execute(sa.select(blobs).order_by(blobs.c.seq))).all()
        assert [(r.id, r.at, r.data, r.note) for r in stored] == [
            (r["id"], r["at"], r["data"], r["note"]) for r in rows
        ]
        # The same rows given as values in the order of the columns named (several: COPY;
        # one: an insert), in another order than the table's.
        names = ("note", "data", "at", "id")
        for batch in (rows, rows[:1]):
            async with db.transaction() as conn:
                await conn.execute(sa.delete(blobs))
                await insert_values(conn, blobs, names, [[r[n] for n in names] for r in batch])
            async with db.read() as conn:
                again = (await conn.execute(sa.select(blobs).order_by(blobs.c.seq))).all()
            assert [(r.id, r.at, r.data, r.note) for r in again] == [
                (r["id"], r["at"], r["data"], r["note"]) for r in batch
            ]
        docs = [{"doc": {"名称": "甲\t\\", "n": [1, 2.5, None]}}, {"doc": {"b": True}}]
        async with db.transaction() as conn:
            await insert_rows(conn, documents, docs)
        async with db.read() as conn:
            stored_docs = list(await conn.scalars(sa.select(documents.c.doc)))
        assert sorted(stored_docs, key=str) == sorted((d["doc"] for d in docs), key=str)
        # Already encoded (JsonText): stored as the document it is, not as a JSON string,
        # whether copied (several rows) or inserted (one row).
        encoded = [{"doc": JsonText(json.dumps(d["doc"], ensure_ascii=False))} for d in docs]
        for batch in (encoded, encoded[:1]):
            async with db.transaction() as conn:
                await conn.execute(sa.delete(documents))
                await insert_rows(conn, documents, batch)
            async with db.read() as conn:
                stored_docs = list(await conn.scalars(sa.select(documents.c.doc)))
            assert sorted(stored_docs, key=str) == sorted(
                (d["doc"] for d in docs[: len(batch)]), key=str
            )
    finally:
        await db.dispose()


@pytest.mark.parametrize("how_many", [3, 50, 51, 2_000])
async def test_among_finds_exactly_the_rows_asked_for_by_uuid_and_by_text(
    database_url: str, how_many: int
) -> None:
    """A few values (one array parameter), many (unnested; UUIDs and text as one text
    literal), and values that are in no row."""
    table = sa.Table(
        "among_rows",
        sa.MetaData(),
        sa.Column("id", GUID(), primary_key=True),
        sa.Column("code", sa.String(32), nullable=False),
    )
    # Text an array literal must quote or escape, among the first values asked for.
    tricky = ['quote"in', "back\\slash", "comma,{brace}", " spaced ", "NULL", "", "中文代码"]
    rows = [{"id": uuid.uuid4(), "code": f"C{n:05d}"} for n in range(3_000)]
    for row, code in zip(rows[7:], tricky, strict=False):
        row["code"] = code
    db = Database(database_url)
    try:
        async with db.transaction() as conn:
            await conn.run_sync(table.metadata.create_all)
            await insert_rows(conn, table, rows)
        asked = rows[7 : 7 + how_many]
        ids = [r["id"] for r in asked] + [uuid.uuid4()]
        codes = [r["code"] for r in asked] + ["NOT-THERE", 'quote"and,comma']

        async def found(column: sa.Column[Any], values: list[Any], item_type: Any) -> set[Any]:
            dialect = db.dialect
            step = len(values) if dialect == "postgresql" else 900  # SQLite: 999 parameters
            seen: set[Any] = set()
            async with db.read() as conn:
                for start in range(0, len(values), step):
                    where = among(dialect, column, values[start : start + step], item_type)
                    seen |= set((await conn.execute(sa.select(column).where(where))).scalars())
            return seen

        assert await found(table.c.id, ids, postgresql.UUID(as_uuid=True)) == {
            r["id"] for r in asked
        }
        assert await found(table.c.code, codes, sa.String()) == {r["code"] for r in asked}
    finally:
        await db.dispose()


@pytest.mark.parametrize(
    ("service", "module"),
    [
        ("registry", "credit_registry"),
        ("records", "credit_records"),
        ("lists", "credit_lists"),
        ("objections", "credit_objections"),
        ("gateway", "credit_gateway"),
    ],
)
def test_each_service_keeps_the_pool_its_settings_name(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, service: str, module: str
) -> None:
    """CREDIT_<SERVICE>_DATABASE_POOL_SIZE is how many connections a process keeps to
    PostgreSQL (five services of 20 each once filled a server's 100); 0 is refused."""
    bootstrap = importlib.import_module(f"{module}.bootstrap")
    settings_module = importlib.import_module(f"{module}.settings")
    cls = next(
        c
        for c in vars(settings_module).values()
        if isinstance(c, type)
        and issubclass(c, ServiceSettings)
        and c.__module__ == settings_module.__name__
    )
    prefix = f"CREDIT_{service.upper()}_"
    monkeypatch.setenv(prefix + "DATABASE_URL", database_url)
    monkeypatch.setenv(prefix + "VAR_DIR", str(tmp_path))
    monkeypatch.setenv(prefix + "DATABASE_POOL_SIZE", "3")
    app = bootstrap.build(cls())
    try:
        if app.db.dialect == "postgresql":
            assert app.db.engine.pool.size() == 3
        assert cls().database_pool_size == 3
    finally:
        asyncio.run(app.db.dispose())
    monkeypatch.setenv(prefix + "DATABASE_POOL_SIZE", "0")
    with pytest.raises(ValidationError):
        cls()


async def test_unavailable_tells_a_database_away_from_a_fault_of_the_statement(
    database_url: str,
) -> None:
    """Real errors from a real database: one that cannot be connected to (PostgreSQL
    refusing connections; SQLite: a directory where the file should be) or that ended the
    session is unavailable (callers may retry); a missing table or, on PostgreSQL, a
    statement cancelled by its timeout is a fault (no retry would help)."""
    db = Database(database_url)
    errors: dict[str, BaseException] = {}
    try:
        async with db.read() as conn:
            try:
                await conn.execute(sa.text("SELECT * FROM no_such_table"))
            except sa.exc.DBAPIError as error:
                errors["missing table"] = error
            if db.dialect == "postgresql":
                await conn.execute(sa.text("SET statement_timeout = 10"))
                try:
                    await conn.execute(sa.text("SELECT pg_sleep(1)"))
                except sa.exc.DBAPIError as error:
                    errors["cancelled"] = error
                await conn.execute(sa.text("SET statement_timeout = 0"))
        if db.dialect == "postgresql":
            async with db.read() as conn:
                pid = await conn.scalar(sa.text("SELECT pg_backend_pid()"))
                with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
                    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                try:
                    await conn.execute(sa.text("SELECT 1"))
                except sa.exc.DBAPIError as error:
                    errors["session ended"] = error
    finally:
        await db.dispose()
    bring_back = take_away(database_url)
    away = Database(database_url)
    try:
        async with away.read() as conn:
            await conn.execute(sa.text("SELECT 1"))
    except sa.exc.DBAPIError as error:
        errors["refused"] = error
    finally:
        await away.dispose()
        bring_back()
    verdicts = {what: unavailable(error) for what, error in errors.items()}
    expected = {"missing table": False, "refused": True}
    if db.dialect == "postgresql":
        expected |= {"cancelled": False, "session ended": True}
    assert verdicts == expected
    assert unavailable(sa.exc.TimeoutError()) and not unavailable(ValueError())


async def test_a_postgresql_server_that_never_answers_fails_within_the_connect_timeout(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that accepts TCP and then says nothing (a hung PostgreSQL, a proxy before a
    dead one) fails a request within the connect timeout, as unavailable (a 503), instead
    of holding it (psycopg's own default is 130 s). A URL's own connect_timeout is kept."""
    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    accepted: list[asyncio.StreamWriter] = []

    async def never_answer(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    db = Database(f"postgresql+psycopg://postgres@127.0.0.1:{port}/x")
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:

        async def query() -> None:
            async with db.read() as conn:
                await conn.execute(sa.text("SELECT 1"))

        with pytest.raises(sa.exc.DBAPIError) as failed:
            await asyncio.wait_for(query(), CONNECT_TIMEOUT_SECONDS + 10)
        took = loop.time() - started
    finally:
        await db.dispose()
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
    assert accepted, "the listener was never reached"
    assert CONNECT_TIMEOUT_SECONDS - 1 <= took < CONNECT_TIMEOUT_SECONDS + 3
    assert unavailable(failed.value)
    given = postgres_connect_args("postgresql+psycopg://h/x?connect_timeout=30&keepalives_idle=7")
    assert "connect_timeout" not in given and "keepalives_idle" not in given
    if not database_url.startswith("postgresql"):
        return
    real = Database(database_url)
    try:  # a real connection carries the timeout and the keepalives
        async with real.read() as conn:
            raw = await conn.get_raw_connection()
            parameters = raw.driver_connection.info.get_parameters()  # type: ignore[union-attr]
    finally:
        await real.dispose()
    assert parameters["connect_timeout"] == str(CONNECT_TIMEOUT_SECONDS)
    assert parameters["keepalives"] == "1" and int(parameters["keepalives_idle"]) <= 60
