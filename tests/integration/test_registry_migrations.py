"""The registry's migrations, run on a database holding rows as the previous revision
left them."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from alembic import command

from credit_common.db import sync_url
from credit_common.migrate import alembic_config
from credit_registry.bootstrap import MIGRATIONS, VERSION_TABLE
from support.schema import index_sql

NOW = dt.datetime(2026, 1, 16, tzinfo=dt.UTC)
VALUE = "310115000000107"  # valid as a registration number and as a tax registration number


def _insert_subject(conn: sa.Connection, code: str, org_code: str | None = None) -> uuid.UUID:
    subjects = sa.Table("subjects", sa.MetaData(), autoload_with=conn)
    subject_id = uuid.uuid4()
    conn.execute(
        sa.insert(subjects).values(
            id=str(subject_id) if conn.dialect.name == "sqlite" else subject_id,
            code_key=code,
            kind="organization",
            name=code,
            status="active",
            org_code=org_code,
            created_at=NOW,
            updated_at=NOW,
        )
    )
    return subject_id


def _map(conn: sa.Connection, subject_id: uuid.UUID, type_: str, value: str) -> None:
    legacy = sa.Table("legacy_codes", sa.MetaData(), autoload_with=conn)
    sid = str(subject_id) if conn.dialect.name == "sqlite" else subject_id
    conn.execute(sa.insert(legacy).values(type=type_, value=value, subject_id=sid))


def test_a_legacy_value_mapped_twice_stops_the_migration_and_names_it(database_url: str) -> None:
    """Two subjects under one value, each by another type: which one the value means is
    for a person to decide, so the migration deletes nothing and names what it found."""
    config = alembic_config(database_url, MIGRATIONS, VERSION_TABLE)
    command.upgrade(config, "0004")
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.begin() as conn:
            a = _insert_subject(conn, "91310115MA1K3YJ58Y")
            b = _insert_subject(conn, "91310115000000107X")
            _map(conn, a, "registration_number", VALUE)
            _map(conn, b, "tax_registration_number", VALUE)
            _map(conn, a, "org_code", "MA1K3YJ58")
        with pytest.raises(RuntimeError) as error:
            command.upgrade(config, "head")
        assert VALUE in str(error.value)
        assert str(a) in str(error.value) and str(b) in str(error.value)
        assert "MA1K3YJ58" not in str(error.value)
        with engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT count(*) FROM legacy_codes")) == 3
    finally:
        engine.dispose()


def test_a_legacy_value_is_unique_once_migrated(database_url: str) -> None:
    config = alembic_config(database_url, MIGRATIONS, VERSION_TABLE)
    command.upgrade(config, "0004")
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.begin() as conn:
            a = _insert_subject(conn, "91310115MA1K3YJ58Y")
            _map(conn, a, "registration_number", VALUE)
        command.upgrade(config, "head")
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            _map(conn, a, "tax_registration_number", VALUE)
        command.downgrade(config, "0004")
        with engine.begin() as conn:
            _map(conn, a, "tax_registration_number", VALUE)
    finally:
        engine.dispose()


def test_an_organisation_code_held_twice_stops_the_migration_and_names_it(
    database_url: str,
) -> None:
    """0007: two subjects holding one organisation code (an allocation and a conversion at
    the same moment) stop the upgrade, named; nothing is changed. Persons (no code) and
    codes held once pass."""
    config = alembic_config(database_url, MIGRATIONS, VERSION_TABLE)
    command.upgrade(config, "0006")
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.begin() as conn:
            a = _insert_subject(conn, "91310115MA1K3YJ58Y", "MA1K3YJ58")
            b = _insert_subject(conn, "91310000MA1K3YJ58D", "MA1K3YJ58")
            _insert_subject(conn, "91310115MA8BRK2A8X", "MA8BRK2A8")
            _insert_subject(conn, "P" + "0" * 64)
            _insert_subject(conn, "P" + "1" * 64)
        with pytest.raises(RuntimeError) as error:
            command.upgrade(config, "head")
        assert "MA1K3YJ58" in str(error.value) and "MA8BRK2A8" not in str(error.value)
        assert str(a) in str(error.value) and str(b) in str(error.value)
        with engine.begin() as conn:  # merged, as the error asks: the duplicate keeps its code
            conn.execute(
                sa.text(
                    "UPDATE subjects SET status = 'merged', merged_into = :a WHERE code_key = :k"
                ),
                {"a": str(a) if conn.dialect.name == "sqlite" else a, "k": "91310000MA1K3YJ58D"},
            )
        command.upgrade(config, "head")
        with engine.connect() as conn:
            made = index_sql(conn, "uq_subjects_org_code").lower()
            assert "unique" in made and "merged_into is null" in made.replace("(", "").replace(
                ")", ""
            )
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            _insert_subject(conn, "91310100MA8BRK2A8Q", "MA8BRK2A8")
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            _insert_subject(conn, "91310100MA1K3YJ58Q", "MA1K3YJ58")  # held by a, not merged
        command.downgrade(config, "0006")
        with engine.begin() as conn:
            _insert_subject(conn, "91310100MA8BRK2A8Q", "MA8BRK2A8")
    finally:
        engine.dispose()
