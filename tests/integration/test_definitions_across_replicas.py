"""What an admin defines through one replica (a measure, a list type's new version, a
catalog item's new version) is used by the other replicas of the service within seconds:
each reads the definitions again in the background."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path

from credit_lists import bootstrap as lists_bootstrap
from credit_lists.domain.model import ListType, Measure
from credit_lists.settings import ListsSettings
from credit_records import bootstrap as records_bootstrap
from credit_records.settings import RecordsSettings
from support.processes import free_port


async def eventually(seen: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await seen():
        assert asyncio.get_running_loop().time() < deadline, "never seen by the other replica"
        await asyncio.sleep(0.02)


async def test_a_measure_and_a_list_type_version_defined_on_one_replica_reach_the_other(
    database_url: str, tmp_path: Path
) -> None:
    settings = ListsSettings(
        database_url=database_url,
        var_dir=tmp_path,
        registry_address=f"127.0.0.1:{free_port()}",
        records_address=f"127.0.0.1:{free_port()}",
    )
    lists_bootstrap.migrate(settings)
    one, other = lists_bootstrap.build(settings), lists_bootstrap.build(settings)
    await one.start()
    await other.start()
    stop = asyncio.Event()
    reloading = asyncio.create_task(other.definitions.keep_fresh(stop, every=0.05))
    try:
        template = other.definitions.by_list_type["court_dishonest_debtor"][0]
        await one.catalogs.put_measure(
            Measure(**{**template.__dict__, "measure_code": "probe_measure"}), "admin"
        )
        court = one.definitions.list_types["court_dishonest_debtor"]
        await one.catalogs.put_list_type(
            ListType(**{**court.__dict__, "name": court.name + " (v2)"}), "admin"
        )

        async def both_seen() -> bool:
            defs = other.definitions
            return "probe_measure" in defs.measures and (
                defs.list_types["court_dishonest_debtor"].version == court.version + 1
            )

        await eventually(both_seen)
        triggered = other.definitions.by_list_type["court_dishonest_debtor"]
        assert "probe_measure" in [m.measure_code for m in triggered]
        assert other.definitions.list_types["court_dishonest_debtor"].name == court.name + " (v2)"
    finally:
        stop.set()
        await reloading
        await one.stop()
        await other.stop()


async def test_a_catalog_item_version_defined_on_one_replica_reaches_the_other(
    database_url: str, tmp_path: Path
) -> None:
    settings = RecordsSettings(
        database_url=database_url,
        var_dir=tmp_path,
        registry_address=f"127.0.0.1:{free_port()}",
    )
    records_bootstrap.migrate(settings)
    one, other = records_bootstrap.build(settings), records_bootstrap.build(settings)
    await one.start()
    await other.start()
    stop = asyncio.Event()
    reloading = asyncio.create_task(other.store.keep_fresh(stop, every=0.05))
    try:
        grade = await other.catalog.get("tax_credit_grade")
        schema = dict(grade.fields_schema)
        schema["required"] = [*schema.get("required", []), "evaluating_authority"]
        await one.catalog.put(dataclasses.replace(grade, fields_schema=schema), "admin")

        async def seen() -> bool:
            current = await other.store.get("tax_credit_grade")
            return current is not None and current.schema_version == grade.schema_version + 1

        await eventually(seen)
        current = await other.catalog.get("tax_credit_grade")
        assert "evaluating_authority" in current.fields_schema["required"]
        assert other.store.version("tax_credit_grade", grade.schema_version) is not None
    finally:
        stop.set()
        await reloading
        await one.stop()
        await other.stop()
