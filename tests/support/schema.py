"""What a database says of its schema where SQLAlchemy's comparison looks away."""

from __future__ import annotations

import sqlalchemy as sa


def index_sql(conn: sa.Connection, name: str) -> str:
    """The statement that makes index `name` as the database keeps it (with a partial
    index's WHERE, which alembic's compare_metadata does not compare); "" if none."""
    if conn.dialect.name == "sqlite":
        query = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :name"
    else:
        query = "SELECT indexdef FROM pg_indexes WHERE indexname = :name"
    found = conn.scalar(sa.text(query), {"name": name})
    return str(found or "")
