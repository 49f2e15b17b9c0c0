"""The records service's data migrations, run on a database holding rows as the previous
revision left them."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import sqlalchemy as sa
from alembic import command

from credit_common.db import sync_url
from credit_common.migrate import alembic_config
from credit_records.bootstrap import MIGRATIONS, VERSION_TABLE


def _insert_record(conn: sa.Connection, record_id: uuid.UUID, ref: str, **values: object) -> None:
    """A general admin_penalty record decided on 15 January 2026, as 0002 stores it."""
    records = sa.Table("records", sa.MetaData(), autoload_with=conn)
    sqlite = conn.dialect.name == "sqlite"
    row: dict[str, object] = {
        "id": str(record_id) if sqlite else record_id,
        "subject_id": str(uuid.uuid4()) if sqlite else uuid.uuid4(),
        "subject_key": "91310115MA1K3YJ58Y",
        "item_code": "admin_penalty",
        "department": "market_regulation",
        "source_ref": ref,
        "decided_on": dt.date(2026, 1, 15),
        "content_hash": "0" * 64,
        "current_version": 1,
        "severity": "general",
        "never_public": False,
        "publicity_until": dt.date(2027, 1, 15),
        "retention_until": dt.date(2032, 1, 15),
        "repairable": True,
        "repair_possible_from": None,
        "late": False,
        "submitted_at": NOW,
        "submitted_by": "cl",
        "updated_at": NOW,
        "open_objections": 0,
    }
    conn.execute(sa.insert(records).values({**row, **values}))


NOW = dt.datetime(2026, 1, 16, tzinfo=dt.UTC)


def test_repair_dates_move_to_the_day_after_the_minimum(database_url: str) -> None:
    config = alembic_config(database_url, MIGRATIONS, VERSION_TABLE)
    command.upgrade(config, "0002")
    engine = sa.create_engine(sync_url(database_url))
    days = {"a": dt.date(2026, 4, 15), "b": dt.date(9999, 12, 31), "c": None}
    ids = {ref: uuid.uuid4() for ref in days}
    with engine.begin() as conn:
        catalog = sa.table(
            "catalog_items",
            sa.column("item_code"),
            sa.column("current_version"),
            sa.column("updated_at"),
        )
        conn.execute(
            sa.insert(catalog).values(item_code="admin_penalty", current_version=1, updated_at=NOW)
        )
        for ref, day in days.items():
            _insert_record(
                conn, ids[ref], ref, repairable=day is not None, repair_possible_from=day
            )
    command.upgrade(config, "head")

    def stored() -> dict[str, object]:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT source_ref, repair_possible_from FROM records"))
            return {
                r[0]: r[1] if isinstance(r[1], dt.date | None) else dt.date.fromisoformat(r[1])
                for r in rows
            }

    assert stored() == {"a": dt.date(2026, 4, 16), "b": dt.date(9999, 12, 31), "c": None}
    command.downgrade(config, "0002")
    assert stored() == days
    engine.dispose()


def test_a_persons_negative_records_are_kept_five_years_from_their_decision(
    database_url: str,
) -> None:
    config = alembic_config(database_url, MIGRATIONS, VERSION_TABLE)
    command.upgrade(config, "0004")
    engine = sa.create_engine(sync_url(database_url))
    person = "P" + "AB" * 32
    # (subject key, item, decided on, retention before) by source ref
    rows = {
        "person-leap": (person, "admin_penalty", dt.date(2024, 2, 29), dt.date(2031, 3, 1)),
        "person-short": (person, "admin_penalty", dt.date(2026, 1, 15), dt.date(2029, 1, 1)),
        "person-licence": (person, "admin_license", dt.date(2026, 1, 15), dt.date(2036, 1, 15)),
        "organisation": (
            "91310115MA1K3YJ58Y",
            "admin_penalty",
            dt.date(2026, 1, 15),
            dt.date(2035, 1, 15),
        ),
    }
    with engine.begin() as conn:
        for code, nature in (("admin_penalty", "negative"), ("admin_license", "neutral")):
            conn.execute(
                sa.text(
                    "INSERT INTO catalog_items (item_code, current_version, updated_at)"
                    " VALUES (:code, 2, :now)"
                ),
                {"code": code, "now": NOW},
            )
            for version, shown in ((1, "negative"), (2, nature)):  # the current one counts
                conn.execute(
                    sa.text(
                        "INSERT INTO catalog_versions"
                        " (item_code, version, definition, created_at, created_by)"
                        " VALUES (:code, :version, :definition, :now, 'shipped')"
                    ),
                    {
                        "code": code,
                        "version": version,
                        "definition": json.dumps({"nature": shown}),
                        "now": NOW,
                    },
                )
        for ref, (key, item, decided, until) in rows.items():
            _insert_record(
                conn,
                uuid.uuid4(),
                ref,
                subject_key=key,
                item_code=item,
                decided_on=decided,
                retention_until=until,
            )
    command.upgrade(config, "head")
    with engine.connect() as conn:
        kept = {
            r[0]: r[1] if isinstance(r[1], dt.date) else dt.date.fromisoformat(r[1])
            for r in conn.execute(sa.text("SELECT source_ref, retention_until FROM records"))
        }
    engine.dispose()
    assert kept == {
        "person-leap": dt.date(2029, 2, 28),
        "person-short": dt.date(2029, 1, 1),
        "person-licence": dt.date(2036, 1, 15),
        "organisation": dt.date(2035, 1, 15),
    }
