"""Catalog use cases: read the items, add an item or a new version of one."""

from __future__ import annotations

from jsonschema import SchemaError

from credit_common.db import Database
from credit_common.errors import FieldViolation, InvalidArgument, NotFound
from credit_common.field_schema import FieldValidator
from credit_records.adapters.catalog_store import CatalogStore
from credit_records.domain.catalog import CatalogItem, check_item
from credit_records.service_layer.values import non_finite_violations


class Catalog:
    def __init__(self, db: Database, store: CatalogStore) -> None:
        self.db = db
        self.store = store

    def list(self) -> list[CatalogItem]:
        return self.store.all()

    async def get(self, item_code: str) -> CatalogItem:
        item = await self.store.get(item_code)
        if item is None:
            raise NotFound(f"no catalog item {item_code!r}")
        return item

    async def put(self, item: CatalogItem, actor: str) -> CatalogItem:
        """Adds an item, or the next version of it; stored records keep the version they
        were checked against, so nothing stored breaks."""
        problems = [FieldViolation(f, m) for f, m in check_item(item)]
        problems += non_finite_violations(item.fields_schema)  # jsonb refuses NaN
        try:
            FieldValidator(item.fields_schema)
        except (SchemaError, Exception) as error:
            problems.append(FieldViolation("fields", f"not a valid JSON Schema: {error}"[:300]))
        if problems:
            raise InvalidArgument("invalid catalog item", "validation_failed", problems)
        async with self.db.transaction() as conn:
            stored = await self.store.put(conn, item, actor)
        self.store.remember(stored)
        return stored
