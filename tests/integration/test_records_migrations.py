"""The records service's data migrations, run on a database holding rows as the previous
revision left them."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from alembic import command

from credit_common.db import sync_url
from credit_common.migrate import alembic_config
from credit_records.bootstrap import MIGRATIONS, VERSION_TABLE


def test_repair_dates_move_to_the_day_after_the_minimum(database_url: str) -> None:
    config = alembic_config(database_url, MIGRATIONS, VERSION_TABLE)
    command.upgrade(config, "0002")
    engine = sa.create_engine(sync_url(database_url))
    days = {"a": dt.date(2026, 4, 15), "b": dt.date(9999, 12, 31), "c": None}
    now = dt.datetime(2026, 1, 16, tzinfo=dt.UTC)
    ids = {ref: uuid.uuid4() for ref in days}
    with engine.begin() as conn:
        catalog = sa.table(
            "catalog_items",
            sa.column("item_code"),
            sa.column("current_version"),
            sa.column("updated_at"),
        )
        conn.execute(
            sa.insert(catalog).values(item_code="admin_penalty", current_version=1, updated_at=now)
        )
        records = sa.Table("records", sa.MetaData(), autoload_with=conn)
        for ref, day in days.items():
            conn.execute(
                sa.insert(records).values(
                    id=str(ids[ref]) if conn.dialect.name == "sqlite" else ids[ref],
                    subject_id=str(uuid.uuid4()) if conn.dialect.name == "sqlite" else uuid.uuid4(),
                    subject_key="91310115MA1K3YJ58Y",
                    item_code="admin_penalty",
                    department="market_regulation",
                    source_ref=ref,
                    decided_on=dt.date(2026, 1, 15),
                    content_hash="0" * 64,
                    current_version=1,
                    severity="general",
                    never_public=False,
                    publicity_until=dt.date(2027, 1, 15),
                    retention_until=dt.date(2032, 1, 15),
                    repairable=day is not None,
                    repair_possible_from=day,
                    late=False,
                    submitted_at=now,
                    submitted_by="cl",
                    updated_at=now,
                    open_objections=0,
                )
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
