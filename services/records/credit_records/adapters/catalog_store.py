"""Catalog items in the database, with their compiled validators kept in memory."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from credit_common.db import Database
from credit_common.field_schema import FieldValidator
from credit_common.tasks import repeat
from credit_common.timeutil import utcnow
from credit_records.adapters import tables as t
from credit_records.domain.catalog import DISCLOSURES, CatalogItem, PublicityRule, SeverityWindow

SHIPPED = Path(__file__).resolve().parent.parent / "domain" / "shipped_catalog.json"


def item_from_definition(d: dict[str, Any], version: int = 1) -> CatalogItem:
    publicity = d.get("publicity") or {"kind": "none"}
    return CatalogItem(
        item_code=d["item_code"],
        name=d["name"],
        category=d.get("category", ""),
        nature=d.get("nature", ""),
        disclosure=DISCLOSURES[d.get("disclosure", "restricted")],
        source_departments=tuple(d.get("source_departments", ())),
        publicity=PublicityRule(
            kind=publicity.get("kind", "none"),
            months=int(publicity.get("months", 0)),
            days=int(publicity.get("days", 0)),
            min_days=int(publicity.get("min_days", 0)),
            until_field=publicity.get("until_field", ""),
            by_severity={
                k: SeverityWindow(
                    bool(v.get("publish")), int(v.get("min_months", 0)), int(v.get("max_months", 0))
                )
                for k, v in (publicity.get("by_severity") or {}).items()
            },
        ),
        retention_days=int(d.get("retention_days", 1825)),
        repairable=bool(d.get("repairable")),
        non_repairable_kinds=tuple(d.get("non_repairable_kinds", ())),
        fields_schema=d.get("fields") or {},
        schema_version=version,
        late_after_workdays=int(d.get("late_after_workdays", 0)),
        nature_field=str((d.get("nature_by_value") or {}).get("field", "")),
        nature_values={
            str(k): str(v)
            for k, v in ((d.get("nature_by_value") or {}).get("values") or {}).items()
        },
    )


def definition_of(item: CatalogItem) -> dict[str, Any]:
    rule = item.publicity
    return {
        "item_code": item.item_code,
        "name": item.name,
        "category": item.category,
        "nature": item.nature,
        "disclosure": item.disclosure.label,
        "source_departments": list(item.source_departments),
        "publicity": {
            "kind": rule.kind,
            "months": rule.months,
            "days": rule.days,
            "min_days": rule.min_days,
            "until_field": rule.until_field,
            "by_severity": {
                k: {"publish": w.publish, "min_months": w.min_months, "max_months": w.max_months}
                for k, w in rule.by_severity.items()
            },
        },
        "retention_days": item.retention_days,
        "repairable": item.repairable,
        "non_repairable_kinds": list(item.non_repairable_kinds),
        "fields": item.fields_schema,
        "late_after_workdays": item.late_after_workdays,
        # Only where it is set: the definitions of other items stay as they were.
        **(
            {"nature_by_value": {"field": item.nature_field, "values": dict(item.nature_values)}}
            if item.nature_field or item.nature_values
            else {}
        ),
    }


# How often each replica reads the catalog again: an item or a new version of one defined
# through one replica is used by every other within this time.
RELOAD_SECONDS = 5.0


class CatalogStore:
    """The current version of every item and a validator per (item, version)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._current: dict[str, CatalogItem] = {}
        self._validators: dict[tuple[str, int], FieldValidator] = {}
        self._versions: dict[tuple[str, int], CatalogItem] = {}
        self._loaded_at = 0.0

    async def load(self) -> None:
        self._loaded_at = time.monotonic()
        async with self.db.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(
                        t.catalog_versions.c.item_code,
                        t.catalog_versions.c.version,
                        t.catalog_versions.c.definition,
                        t.catalog_items.c.current_version,
                    ).join(
                        t.catalog_items,
                        t.catalog_items.c.item_code == t.catalog_versions.c.item_code,
                    )
                )
            ).all()
        for row in rows:
            item = item_from_definition(row.definition, row.version)
            self._versions[(item.item_code, row.version)] = item
            if row.version == row.current_version:
                self._current[item.item_code] = item

    async def keep_fresh(self, stop: asyncio.Event, every: float = RELOAD_SECONDS) -> None:
        """Reads the catalog again every `every` seconds until `stop`: an item, or a new
        version of one, defined through another replica is then validated against here
        too (its validator compiled once, when first used)."""
        await repeat(stop, every, self.load, "reloading the catalog")

    async def get(self, item_code: str) -> CatalogItem | None:
        item = self._current.get(item_code)
        if item is None and time.monotonic() - self._loaded_at > 2:
            await self.load()  # another replica may have added it
            item = self._current.get(item_code)
        return item

    def version(self, item_code: str, version: int) -> CatalogItem | None:
        return self._versions.get((item_code, version))

    def all(self) -> list[CatalogItem]:
        return sorted(self._current.values(), key=lambda i: i.item_code)

    def validator(self, item: CatalogItem) -> FieldValidator:
        key = (item.item_code, item.schema_version)
        validator = self._validators.get(key)
        if validator is None:
            validator = self._validators[key] = FieldValidator(item.fields_schema)
        return validator

    async def put(self, conn: AsyncConnection, item: CatalogItem, actor: str) -> CatalogItem:
        """Stores a new version of an item (the first, or the next); returns it."""
        now = utcnow()
        current = await conn.scalar(
            sa.select(t.catalog_items.c.current_version)
            .where(t.catalog_items.c.item_code == item.item_code)
            .with_for_update()
        )
        version = (current or 0) + 1
        if current is None:
            await conn.execute(
                sa.insert(t.catalog_items).values(
                    item_code=item.item_code, current_version=version, updated_at=now
                )
            )
        else:
            await conn.execute(
                sa.update(t.catalog_items)
                .where(t.catalog_items.c.item_code == item.item_code)
                .values(current_version=version, updated_at=now)
            )
        stored = item_from_definition(definition_of(item), version)
        await conn.execute(
            sa.insert(t.catalog_versions).values(
                item_code=item.item_code,
                version=version,
                definition=definition_of(stored),
                created_at=now,
                created_by=actor,
            )
        )
        return stored

    def remember(self, item: CatalogItem) -> None:
        self._current[item.item_code] = item
        self._versions[(item.item_code, item.schema_version)] = item

    async def seed_shipped(self) -> list[str]:
        """Adds the shipped items that are not in the catalog yet; returns their codes."""
        shipped = json.loads(SHIPPED.read_text(encoding="utf-8"))["items"]
        added = []
        async with self.db.transaction() as conn:
            existing = set(await conn.scalars(sa.select(t.catalog_items.c.item_code)))
            for definition in shipped:
                if definition["item_code"] not in existing:
                    await self.put(conn, item_from_definition(definition), "shipped-catalog")
                    added.append(definition["item_code"])
        await self.load()
        return added
