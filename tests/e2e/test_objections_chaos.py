"""Killing the records service, the lists service or Redis at the steps of an objection's
life loses and repeats nothing: after the restart the objection reaches its end, the
target's mark is set and cleared exactly once, and the correction or withdrawal is applied
exactly once; so is an approved repair (records and Redis killed after each of its steps). (test_objections_reliability.py kills the objections service itself.)"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from credit_common.db import Database
from credit_records.adapters import tables as record_tables
from e2e.conftest import Api, gateway_settings, open_api
from e2e.test_gateway_objections import (
    EVIDENCE,
    bearer,
    eventually,
    file,
    parties,
    record,
    register,
    repair,
    step,
    submit,
)
from e2e.test_gateway_objections_lists import entry, listed, target
from support.processes import ServiceProcess, free_port, start_objections, start_service
from support.redis_server import RedisServer

pytestmark = pytest.mark.slow


@dataclass
class Restartable:
    """A service process that can be killed and started again on the same port and database."""

    module: str
    prefix: str
    env: dict[str, str]
    tmp: Path
    port: int = field(default_factory=free_port)
    process: ServiceProcess | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = start_service(self.module, self.prefix, self.env, self.tmp, port=self.port)

    def kill(self) -> None:
        assert self.process is not None
        assert self.process.stop(signal.SIGKILL) == -signal.SIGKILL

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    folder = tmp_path / "own-redis"
    folder.mkdir()
    server = RedisServer(folder)
    server.start()
    yield server
    if server.process is not None and server.process.poll() is None:
        server.process.terminate()
        server.process.wait(10)


def records_service(registry: str, redis_url: str, database_url: str, tmp: Path) -> Restartable:
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "REGISTRY_ADDRESS": registry}
    return Restartable("credit_records", "CREDIT_RECORDS_", env, tmp)


def lists_service(
    registry: str, records: str, redis_url: str, database_url: str, tmp: Path
) -> Restartable:
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "REGISTRY_ADDRESS": registry,
        "RECORDS_ADDRESS": records,
        "CLOCK_EVERY_SECONDS": "0.2",
    }
    return Restartable("credit_lists", "CREDIT_LISTS_", env, tmp)


async def upheld_correction(
    api: Api, after_each_step: Callable[[], Awaitable[None]], within: float = 15.0
) -> None:
    """An objection to a record taken to `upheld`, calling `after_each_step` after every
    step; then the mark must be gone and the correction applied exactly once."""
    p = await parties(api)
    filed = await file(api, p.window, p.record_id)
    assert filed.status_code == 201, filed.text
    objection_id = filed.json()["objection_id"]
    await after_each_step()

    async def marked() -> bool:
        return bool((await record(api, p.record_id))["under_objection"])

    await eventually(marked, within=within)
    accepted = await step(api, objection_id, "accept", p.handler, reason="受理")
    assert accepted.status_code == 200, accepted.text
    await after_each_step()
    verified = await step(
        api,
        objection_id,
        "verify",
        p.market,
        finding="error_confirmed",
        corrected_fields={"fine_amount": 0.3},
        note="金额有误",
    )
    assert verified.status_code == 200, verified.text
    await after_each_step()
    decided = await step(api, objection_id, "decide", p.handler, decision="upheld", reason="有误")
    assert decided.status_code == 200, decided.text
    await after_each_step()

    async def corrected() -> bool:
        seen = await record(api, p.record_id)
        return bool(seen["version"] == 2 and not seen["under_objection"])

    await eventually(corrected, within=within)
    await after_each_step()  # whatever is redelivered now must change nothing
    await asyncio.sleep(1.5)
    versions = (await api.http.get(f"/v1/records/{p.record_id}/versions")).json()["versions"]
    assert [v["fields"]["fine_amount"] for v in versions] == [1.0, 0.3]
    seen: Any = await record(api, p.record_id)
    assert seen["version"] == 2 and not seen["under_objection"]
    kept = (await api.http.get(f"/v1/objections/{objection_id}", headers=p.handler)).json()
    assert kept["state"] == "upheld"
    assert [s["action"] for s in kept["transitions"]] == ["file", "accept", "verify", "decide"]


async def approved_repair(
    api: Api,
    after_each_step: Callable[[], Awaitable[None]],
    records_database_url: str,
    within: float = 15.0,
) -> None:
    """A repair of a record applied for and approved, calling `after_each_step` after
    each step; then the record must be off the public level and repaired exactly once."""
    p = await parties(api, ref="沪监罚〔2026〕600号")
    shared = await bearer(api, ["credit:shared"], "finance")
    old = await submit(api, p.code, p.market, "沪监罚〔2026〕601号", days_ago=120)
    applied = await repair(api, p.subject, old)
    assert applied.status_code == 201, applied.text
    await after_each_step()
    decide = f"/v1/repairs/{applied.json()['repair_id']}/decide"
    body = {"decision": "approved", "reason": "符合修复条件"}
    decided = await api.http.post(decide, json=body, headers=p.handler)
    assert decided.status_code == 200, decided.text
    await after_each_step()

    async def repaired() -> bool:
        public = await api.http.get(f"/v1/records/{old}")
        return public.status_code == 404 and bool((await record(api, old, shared))["repaired"])

    await eventually(repaired, within=within)
    await after_each_step()  # whatever is redelivered now must change nothing
    await asyncio.sleep(1.5)
    assert await repaired()
    db = Database(records_database_url, pool_size=1)
    try:
        async with db.read() as conn:
            changes = (
                await conn.execute(
                    sa.select(record_tables.record_history.c.change).where(
                        record_tables.record_history.c.record_id == uuid.UUID(old)
                    )
                )
            ).scalars()
            assert [c for c in changes if c == "repaired"] == ["repaired"]
    finally:
        await db.dispose()


@contextlib.asynccontextmanager
async def records_and_objections(
    registry: ServiceProcess,
    redis_url: str,
    make_database_url: Callable[[str], str],
    tmp: Path,
) -> AsyncIterator[tuple[Api, Restartable]]:
    """A restartable records service, an objections service and a gateway in front."""
    records = records_service(registry.address, redis_url, make_database_url("rec"), tmp)
    records.start()
    objections = start_objections(
        {
            "DATABASE_URL": make_database_url("obj"),
            "REDIS_URL": redis_url,
            "REGISTRY_ADDRESS": registry.address,
            "RECORDS_ADDRESS": records.address,
            "LISTS_ADDRESS": f"127.0.0.1:{free_port()}",
        },
        tmp,
        free_port(),
    )
    settings = gateway_settings(
        make_database_url("gw"),
        registry.address,
        tmp,
        records_address=records.address,
        objections_address=objections.address,
    )
    api, close = await open_api(settings)
    try:
        yield api, records
    finally:
        await close()  # type: ignore[misc]
        objections.stop()
        records.stop()


async def test_killing_the_records_service_at_every_step_marks_corrects_and_repairs_once(
    registry_process: ServiceProcess,
    redis_url: str,
    make_database_url: Callable[[str], str],
    tmp_path: Path,
) -> None:
    async with records_and_objections(registry_process, redis_url, make_database_url, tmp_path) as (
        api,
        records,
    ):

        async def kill_records() -> None:
            # Right after the step: its event may be in the objections outbox, in the
            # stream, or being applied by records when the kill comes.
            records.kill()
            records.start()
            await eventually(api.gateway.records.ready, within=10.0)

        await upheld_correction(api, kill_records)
        await approved_repair(api, kill_records, records.env["DATABASE_URL"])


async def test_killing_redis_at_every_step_loses_and_repeats_nothing(
    registry_process: ServiceProcess,
    own_redis: RedisServer,
    make_database_url: Callable[[str], str],
    tmp_path: Path,
) -> None:
    await own_redis.wait_up()
    async with records_and_objections(
        registry_process, own_redis.url, make_database_url, tmp_path
    ) as (api, records):

        async def kill_redis() -> None:
            # Redis is away for a while: relays and consumers fail and retry, the services
            # keep answering; then it comes back with what it had acknowledged.
            own_redis.kill()
            await asyncio.sleep(1.5)
            own_redis.start()
            await own_redis.wait_up()

        await upheld_correction(api, kill_redis, within=20.0)
        await approved_repair(api, kill_redis, records.env["DATABASE_URL"], within=20.0)


async def test_killing_the_lists_service_at_every_step_withdraws_the_entry_once(
    registry_process: ServiceProcess,
    records_process: ServiceProcess,
    redis_url: str,
    make_database_url: Callable[[str], str],
    tmp_path: Path,
) -> None:
    lists = lists_service(
        registry_process.address,
        records_process.address,
        redis_url,
        make_database_url("lst"),
        tmp_path,
    )
    lists.start()
    objections = start_objections(
        {
            "DATABASE_URL": make_database_url("obj"),
            "REDIS_URL": redis_url,
            "REGISTRY_ADDRESS": registry_process.address,
            "RECORDS_ADDRESS": records_process.address,
            "LISTS_ADDRESS": lists.address,
        },
        tmp_path,
        free_port(),
    )
    settings = gateway_settings(
        make_database_url("gw"),
        registry_process.address,
        tmp_path,
        records_address=records_process.address,
        lists_address=lists.address,
        objections_address=objections.address,
    )
    api, close = await open_api(settings)

    async def kill_lists() -> None:
        lists.kill()
        lists.start()
        await eventually(api.gateway.lists.ready, within=10.0)

    try:
        code = await register(api, "名单故障测试有限公司")
        entry_id = await listed(api, code, "serious_illegal_dishonest", "market_regulation")
        window = await bearer(api, ["objections:file"], "development_reform")
        handler = await bearer(api, ["objections:handle"], "development_reform")
        market = await bearer(api, ["objections:verify"], "market_regulation")
        body = {"target": target(entry_id), "reason": "并非本公司行为", "evidence": EVIDENCE}
        filed = await api.http.post("/v1/objections", json=body, headers=window)
        assert filed.status_code == 201, filed.text
        objection_id = filed.json()["objection_id"]
        await kill_lists()

        async def marked() -> bool:
            return bool((await entry(api, entry_id))["under_objection"])

        await eventually(marked, within=15.0)
        assert (await step(api, objection_id, "accept", handler, reason="受理")).status_code == 200
        await kill_lists()
        verified = await step(
            api, objection_id, "verify", market, finding="error_confirmed", note="列入有误"
        )
        assert verified.status_code == 200, verified.text
        await kill_lists()
        decided = await step(
            api, objection_id, "decide", handler, decision="upheld", reason="列入有误"
        )
        assert decided.status_code == 200, decided.text
        await kill_lists()

        async def withdrawn() -> bool:
            seen = await entry(api, entry_id)
            return bool(seen["state"] == "withdrawn" and not seen["under_objection"])

        await eventually(withdrawn, within=15.0)
        await kill_lists()
        await asyncio.sleep(1.5)
        seen = await entry(api, entry_id)
        assert seen["state"] == "withdrawn" and not seen["under_objection"]
        moves = [h["to_state"] for h in seen["history"]]
        assert moves.count("withdrawn") == 1, moves
    finally:
        await close()  # type: ignore[misc]
        objections.stop()
        lists.stop()
