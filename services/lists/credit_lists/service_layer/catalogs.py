"""List types and measures: read them, add them, add new versions."""

from __future__ import annotations

from credit_common.db import Database
from credit_common.errors import FieldViolation, InvalidArgument
from credit_lists.adapters.definitions import Definitions
from credit_lists.domain.model import ListType, Measure, definition


class Catalogs:
    def __init__(self, db: Database, definitions: Definitions) -> None:
        self.db = db
        self.definitions = definitions

    async def list_types(self) -> list[ListType]:
        await self.definitions.refresh_if_stale()
        return sorted(self.definitions.list_types.values(), key=lambda t: t.list_type)

    async def measures(self) -> list[Measure]:
        await self.definitions.refresh_if_stale()
        return sorted(self.definitions.measures.values(), key=lambda m: m.measure_code)

    async def put_list_type(self, value: ListType, actor: str) -> ListType:
        """Adds a list type or its next version (entries keep the rules they were made under)."""
        problems = value.problems()
        if problems:
            raise InvalidArgument(
                "invalid list type",
                "validation_failed",
                [FieldViolation(f, m) for f, m in problems],
            )
        async with self.db.transaction() as conn:
            version = await self.definitions.put(
                conn, "list_type", value.list_type, definition(value), actor
            )
        stored = ListType(**{**value.__dict__, "version": version})
        self.definitions.remember(stored)
        return stored

    async def put_measure(self, value: Measure, actor: str) -> Measure:
        problems = value.problems()
        unknown = [t for t in value.list_types if t not in self.definitions.list_types]
        if unknown:
            problems.append(("list_types", "unknown: " + ", ".join(unknown)))
        if problems:
            raise InvalidArgument(
                "invalid measure", "validation_failed", [FieldViolation(f, m) for f, m in problems]
            )
        async with self.db.transaction() as conn:
            version = await self.definitions.put(
                conn, "measure", value.measure_code, definition(value), actor
            )
        stored = Measure(**{**value.__dict__, "version": version})
        self.definitions.remember(stored)
        return stored
