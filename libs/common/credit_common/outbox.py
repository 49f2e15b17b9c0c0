"""The transactional outbox: events are written in the use case's own transaction."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from google.protobuf.message import Message
from opentelemetry import propagate
from sqlalchemy.ext.asyncio import AsyncConnection

from credit.events.v1 import envelope_pb2
from credit_common.db import GUID, UTCDateTime, insert_rows
from credit_common.timeutil import utcnow


def outbox_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "outbox",
        metadata,
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("event_id", GUID(), nullable=False, unique=True),
        sa.Column("event_type", sa.String(80), nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=True),
        sa.Index(
            "ix_outbox_unpublished",
            "seq",
            sqlite_where=sa.text("published_at IS NULL"),
            postgresql_where=sa.text("published_at IS NULL"),
        ),
    )


def processed_events_table(metadata: sa.MetaData) -> sa.Table:
    """What a consumer group has applied, so a redelivered event is applied once."""
    return sa.Table(
        "processed_events",
        metadata,
        sa.Column("consumer_group", sa.String(80), primary_key=True),
        sa.Column("event_id", GUID(), primary_key=True),
        sa.Column("processed_at", UTCDateTime(), nullable=False),
    )


@dataclass(frozen=True)
class Event:
    type: str
    subject_code: str
    payload: Message


def envelope_for(
    event: Event,
    producer: str,
    *,
    at: dt.datetime | None = None,
    trace_context: Mapping[str, str] | None = None,
) -> envelope_pb2.Envelope:
    """The envelope of one event; `at` and `trace_context` may be shared by a batch (one
    transaction, one moment, one trace), which saves working them out per event."""
    envelope = envelope_pb2.Envelope(
        event_id=str(uuid.uuid4()),
        type=event.type,
        subject_code=event.subject_code,
        producer=producer,
    )
    envelope.occurred_at.FromDatetime(at or utcnow())
    envelope.payload.Pack(event.payload)
    if trace_context is None:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        trace_context = carrier
    envelope.trace_context.update(trace_context)
    return envelope


class Outbox:
    """Writes events beside the data that caused them, in the same transaction."""

    def __init__(self, table: sa.Table, producer: str) -> None:
        self.table = table
        self.producer = producer

    async def add(self, conn: AsyncConnection, *events: Event) -> list[str]:
        rows = []
        now = utcnow()
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        for event in events:
            envelope = envelope_for(event, self.producer, at=now, trace_context=carrier)
            rows.append(
                {
                    "event_id": uuid.UUID(envelope.event_id),
                    "event_type": event.type,
                    "envelope": envelope.SerializeToString(),
                    "created_at": now,
                }
            )
        await insert_rows(conn, self.table, rows)
        return [str(r["event_id"]) for r in rows]
