"""Writing many records at once on PostgreSQL: COPY, not row-by-row inserts."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg.types.json import Jsonb
from sqlalchemy.ext.asyncio import AsyncConnection

from credit_records.adapters.repository import record_row, version_row
from credit_records.domain.records import StoredRecord

RECORD_COLUMNS = (
    "id",
    "subject_id",
    "subject_key",
    "item_code",
    "department",
    "source_ref",
    "decided_on",
    "content_hash",
    "current_version",
    "severity",
    "never_public",
    "publicity_until",
    "retention_until",
    "repairable",
    "repair_possible_from",
    "late",
    "submitted_at",
    "submitted_by",
    "updated_at",
    "withdrawn_at",
    "repaired_at",
    "open_objections",
)
VERSION_COLUMNS = (
    "record_id",
    "version",
    "fields",
    "schema_version",
    "recorded_at",
    "recorded_by",
    "department",
    "reason",
)


async def copy_records(conn: AsyncConnection, records: Sequence[StoredRecord]) -> None:
    """COPYs the records and their first versions inside the caller's transaction."""
    raw = await conn.get_raw_connection()
    pg = raw.driver_connection
    assert pg is not None
    async with pg.cursor() as cursor:
        async with cursor.copy(f"COPY records ({', '.join(RECORD_COLUMNS)}) FROM STDIN") as copy:
            for record in records:
                row = record_row(record)
                await copy.write_row([row[c] for c in RECORD_COLUMNS])
        async with cursor.copy(
            f"COPY record_versions ({', '.join(VERSION_COLUMNS)}) FROM STDIN"
        ) as copy:
            for record in records:
                for version in record.versions:
                    row = version_row(record.id, version)
                    row["fields"] = Jsonb(row["fields"])
                    await copy.write_row([row[c] for c in VERSION_COLUMNS])
