"""A record stored before single submissions' fields were read as a bulk line's (text kept
with blanks around it, empty values kept) is the same content when sent again: on its
own, in a bulk upload, or as a correction of nothing."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa

from credit_records.adapters import tables as t
from credit_records.bootstrap import RecordsApp
from credit_records.domain.records import canonical_json, content_hash
from credit_records.service_layer import commands
from credit_records.service_layer.ingest import RowIn
from support.records_parts import MARKET, answering, decided, keys, penalty, started

REF = "某监罚〔2025〕7号"


@pytest.fixture
async def records(database_url: str, tmp_path: Path) -> AsyncIterator[RecordsApp]:
    app = await started(database_url, tmp_path)
    yield app
    await app.stop()


def padded() -> dict[str, object]:
    return {**penalty(), "violation_type": "  超范围经营 ", "suspended_licences": " "}


async def stored_as_before(app: RecordsApp, subject: tuple[uuid.UUID, str]) -> uuid.UUID:
    """A record whose fields were stored as given, blanks and a blank value included, and
    hashed so (as single submissions were before they were read as bulk lines are)."""
    submitted = await app.records.submit(
        commands.Submit(MARKET, subject[1], "admin_penalty", REF, decided(), penalty())
    )
    record_id = submitted.view.record.id
    fields = padded()
    digest = content_hash(
        subject[0], "admin_penalty", dt.date.fromisoformat(decided()), canonical_json(fields)
    )
    async with app.db.transaction() as conn:
        await conn.execute(
            sa.update(t.record_versions)
            .where(t.record_versions.c.record_id == record_id)
            .values(fields=fields)
        )
        await conn.execute(
            sa.update(t.records).where(t.records.c.id == record_id).values(content_hash=digest)
        )
    return record_id


async def versions(app: RecordsApp, record_id: uuid.UUID) -> int:
    async with app.db.read() as conn:
        count: int = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(t.record_versions)
            .where(t.record_versions.c.record_id == record_id)
        )
        return count


async def test_an_old_record_sent_again_on_its_own_is_answered_not_refused(
    records: RecordsApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = records
    subject = keys()
    answering(app, monkeypatch, subject)
    record_id = await stored_as_before(app, subject)
    for fields in (padded(), penalty()):  # as then, and as it reads now
        again = await app.records.submit(
            commands.Submit(MARKET, subject[1], "admin_penalty", REF, decided(), fields)
        )
        assert not again.created and again.view.record.id == record_id
    other = {**penalty(), "violation_type": "无照经营"}
    with pytest.raises(Exception, match="already names a record with other content"):
        await app.records.submit(
            commands.Submit(MARKET, subject[1], "admin_penalty", REF, decided(), other)
        )
    await app.records.correct(commands.Correct(MARKET, record_id, padded(), "重发"))
    assert await versions(app, record_id) == 1  # nothing corrected


async def test_an_old_record_sent_again_in_a_bulk_upload_is_unchanged(
    records: RecordsApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = records
    subject = keys()
    answering(app, monkeypatch, subject)
    await stored_as_before(app, subject)
    # As the gateway's readers hand a line's fields on: read as a bulk line's.
    rows = [RowIn(1, subject[1], "admin_penalty", REF, decided(), json.dumps(penalty()))]

    async def chunks() -> AsyncIterator[Sequence[RowIn]]:
        yield rows

    result = await app.ingestion.run(MARKET, chunks(), atomic=False)
    assert (result.accepted, result.unchanged, result.rejected) == (0, 1, [])
