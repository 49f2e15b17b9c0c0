"""The tables of the consumer tests: an outbox, the consumer's processed events, and the
values its handlers apply."""

from __future__ import annotations

import sqlalchemy as sa

from credit_common.outbox import outbox_table, processed_events_table

metadata = sa.MetaData()
outbox = outbox_table(metadata)
processed = processed_events_table(metadata)
applied = sa.Table(
    "applied",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("value", sa.String(40)),
)
