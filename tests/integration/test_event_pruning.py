"""The pruning of each service's event tables, on its own migrated database: outbox rows
published long ago and the marks of events applied long ago go, nothing else does."""

from __future__ import annotations

import datetime as dt
import importlib
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from credit_common.db import Database, sync_url
from credit_common.migrate import upgrade
from credit_common.pruning import Pruner, Retention
from support.schema import index_sql

NOW = dt.datetime(2026, 11, 29, 12, tzinfo=dt.UTC)
KEEP = Retention.days(outbox=7, processed=30)


def days_ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


def migrated(service: str, url: str) -> Any:
    """The service's tables module, its database migrated to head."""
    bootstrap = importlib.import_module(f"credit_{service}.bootstrap")
    upgrade(url, bootstrap.MIGRATIONS, bootstrap.VERSION_TABLE)
    return importlib.import_module(f"credit_{service}.adapters.tables")


async def fill(db: Database, tables: Any) -> dict[str, Any]:
    """Outbox rows and marks of applied events of several ages; returns their keys."""
    outbox: list[tuple[str, dt.datetime, dt.datetime | None]] = [
        ("published_long_ago", days_ago(20), days_ago(19)),
        ("published_long_ago_too", days_ago(9), days_ago(8)),
        # Written long ago, never published (Redis away): kept whatever its age.
        ("never_published", days_ago(40), None),
        ("published_lately", days_ago(6.9), days_ago(6.9)),
    ]
    marks = {
        "applied_long_ago": days_ago(31),
        "applied_long_ago_too": days_ago(45),
        "applied_lately": days_ago(29.9),
    }
    keys: dict[str, Any] = {}
    async with db.transaction() as conn:
        for name, created, published in outbox:
            keys[name] = await conn.scalar(
                sa.insert(tables.outbox)
                .values(
                    event_id=uuid.uuid4(),
                    event_type="test.value",
                    envelope=b"x",
                    created_at=created,
                    published_at=published,
                )
                .returning(tables.outbox.c.seq)
            )
        for name, at in marks.items():
            keys[name] = uuid.uuid4()
            await conn.execute(
                sa.insert(tables.processed_events).values(
                    consumer_group="g", event_id=keys[name], processed_at=at
                )
            )
    return keys


@pytest.mark.parametrize("service", ["registry", "records", "lists", "objections"])
async def test_only_what_is_past_its_time_goes_a_batch_at_a_time(
    service: str, make_database_url: Callable[[str], str], tmp_path: Path
) -> None:
    url = make_database_url(service[:3])
    tables = migrated(service, url)
    engine = sa.create_engine(sync_url(url))
    with engine.connect() as conn:  # the migrations made the index tables.py declares
        diffs = compare_metadata(MigrationContext.configure(conn), tables.metadata)
        assert [d for d in diffs if "processed_events" in repr(d) or "outbox" in repr(d)] == []
        published = index_sql(conn, "ix_outbox_published").lower()
        assert "published_at" in published and "where" in published
        assert "is not null" in published.replace("(", "").replace(")", "")
    engine.dispose()
    db = Database(url)
    try:
        keys = await fill(db, tables)
        pruner = Pruner(db, tables.outbox, tables.processed_events, KEEP, batch=1)
        assert await pruner.prune(NOW) == (2, 2)
        assert await pruner.prune(NOW) == (0, 0)
        async with db.read() as conn:
            seqs = set(await conn.scalars(sa.select(tables.outbox.c.seq)))
            marks = set(await conn.scalars(sa.select(tables.processed_events.c.event_id)))
    finally:
        await db.dispose()
    assert seqs == {keys["never_published"], keys["published_lately"]}
    assert marks == {keys["applied_lately"]}


def test_marks_kept_less_long_than_published_rows_are_refused() -> None:
    from pydantic import ValidationError

    from credit_records.settings import RecordsSettings

    with pytest.raises(ValidationError, match="processed_keep_days must be at least"):
        RecordsSettings(outbox_keep_days=10, processed_keep_days=9)
    assert RecordsSettings(outbox_keep_days=10, processed_keep_days=10).processed_keep_days == 10
