"""List types and measures in the database, kept in memory for the hot paths."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from credit_common.db import Database
from credit_common.tasks import repeat
from credit_common.timeutil import utcnow
from credit_lists.adapters.tables import definitions
from credit_lists.domain.model import ListType, Measure, definition

SHIPPED = Path(__file__).resolve().parent.parent / "domain" / "shipped.json"
# How often each replica reads the list types and measures again: what an admin defines
# through one replica is used by every other within this time.
RELOAD_SECONDS = 5.0


def list_type_of(d: dict[str, Any], version: int = 1) -> ListType:
    return ListType(
        list_type=d["list_type"],
        name=d["name"],
        color=d["color"],
        authority_department=d["authority_department"],
        publicity_days=int(d.get("publicity_days", 0)),
        default_duration_days=int(d.get("default_duration_days", 0)),
        min_days_before_repair=int(d.get("min_days_before_repair", 0)),
        repairable=bool(d.get("repairable")),
        basis=d.get("basis", ""),
        max_duration_days=int(d.get("max_duration_days", 0)),
        min_duration_days=int(d.get("min_duration_days", 0)),
        version=version,
    )


def measure_of(d: dict[str, Any], version: int = 1) -> Measure:
    return Measure(
        measure_code=d["measure_code"],
        name=d["name"],
        kind=d["kind"],
        implementing_department=d.get("implementing_department", ""),
        list_types=tuple(d.get("list_types", ())),
        basis=d.get("basis", ""),
        version=version,
    )


class Definitions:
    """Current list types and measures, and the measures each list type triggers."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.list_types: dict[str, ListType] = {}
        self.measures: dict[str, Measure] = {}
        self.by_list_type: dict[str, list[Measure]] = {}
        self.listing_rules: list[dict[str, Any]] = json.loads(SHIPPED.read_text(encoding="utf-8"))[
            "listing_rules"
        ]
        self._loaded_at = 0.0

    async def load(self) -> None:
        self._loaded_at = time.monotonic()
        async with self.db.read() as conn:
            rows = (await conn.execute(sa.select(definitions).where(definitions.c.current))).all()
        self.list_types = {
            r.code: list_type_of(r.definition, r.version) for r in rows if r.kind == "list_type"
        }
        self.measures = {
            r.code: measure_of(r.definition, r.version) for r in rows if r.kind == "measure"
        }
        self._index()

    def _index(self) -> None:
        self.by_list_type = {}
        for measure in sorted(self.measures.values(), key=lambda m: m.measure_code):
            for list_type in measure.list_types:
                self.by_list_type.setdefault(list_type, []).append(measure)

    async def keep_fresh(self, stop: asyncio.Event, every: float = RELOAD_SECONDS) -> None:
        """Reads the list types and measures again every `every` seconds until `stop`: a
        new one, or a new version, defined through another replica is then used here too
        (the restriction check, a status, a proposal, measure feedback)."""
        await repeat(stop, every, self.load, "reloading list types and measures")

    async def refresh_if_stale(self, seconds: float = 5.0) -> None:
        if time.monotonic() - self._loaded_at > seconds:
            await self.load()

    async def list_type(self, code: str) -> ListType | None:
        found = self.list_types.get(code)
        if found is None:
            await self.refresh_if_stale(2.0)
            found = self.list_types.get(code)
        return found

    async def put(
        self, conn: AsyncConnection, kind: str, code: str, body: dict[str, Any], actor: str
    ) -> int:
        """Stores the next version of a list type or measure; returns its version number."""
        current = await conn.scalar(
            sa.select(sa.func.max(definitions.c.version)).where(
                definitions.c.kind == kind, definitions.c.code == code
            )
        )
        version = (current or 0) + 1
        await conn.execute(
            sa.update(definitions)
            .where(definitions.c.kind == kind, definitions.c.code == code)
            .values(current=False)
        )
        await conn.execute(
            sa.insert(definitions).values(
                kind=kind,
                code=code,
                version=version,
                current=True,
                definition=body,
                created_at=utcnow(),
                created_by=actor,
            )
        )
        return version

    def remember(self, value: ListType | Measure) -> None:
        if isinstance(value, ListType):
            self.list_types[value.list_type] = value
        else:
            self.measures[value.measure_code] = value
            self._index()

    async def seed_shipped(self) -> list[str]:
        """Adds the shipped list types and measures that are not defined yet (a defined one
        keeps its current version); returns their codes."""
        shipped = json.loads(SHIPPED.read_text(encoding="utf-8"))
        added: list[str] = []
        async with self.db.transaction() as conn:
            existing = {
                (r.kind, r.code)
                for r in await conn.execute(sa.select(definitions.c.kind, definitions.c.code))
            }
            for d in shipped["list_types"]:
                if ("list_type", d["list_type"]) not in existing:
                    await self.put(
                        conn, "list_type", d["list_type"], definition(list_type_of(d)), "shipped"
                    )
                    added.append(d["list_type"])
            for d in shipped["measures"]:
                if ("measure", d["measure_code"]) not in existing:
                    await self.put(
                        conn, "measure", d["measure_code"], definition(measure_of(d)), "shipped"
                    )
                    added.append(d["measure_code"])
        await self.load()
        return added
