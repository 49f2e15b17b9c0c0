"""Killing the objections service at any step of an objection's life loses and repeats
nothing: after a restart the objection reaches its end, the record's mark is set and
cleared, and the correction is applied exactly once."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from e2e.conftest import gateway_settings, open_api
from e2e.test_gateway_objections import eventually, file, parties, record, step
from support.processes import ServiceProcess, free_port, start_objections

pytestmark = pytest.mark.slow


async def test_killing_the_objections_service_after_every_step_applies_the_correction_once(
    registry_process: ServiceProcess,
    records_process: ServiceProcess,
    objections_env: dict[str, str],
    make_database_url: Callable[[str], str],
    tmp_path: Path,
) -> None:
    port = free_port()
    objections = start_objections(objections_env, tmp_path, port)
    settings = gateway_settings(
        make_database_url("gw"),
        registry_process.address,
        tmp_path,
        records_address=records_process.address,
        objections_address=objections.address,
    )
    api, close = await open_api(settings)

    async def kill_and_restart() -> None:
        # Right after the step's commit: its event may or may not have reached Redis.
        nonlocal objections
        objections.stop(signal.SIGKILL)
        objections = start_objections(objections_env, tmp_path, port)
        # The gateway's channel may still be backing off from the dead process (a caller
        # would get a 503 with Retry-After meanwhile).
        await eventually(api.gateway.objections.ready, within=10.0)

    try:
        p = await parties(api)
        objection_id = (await file(api, p.window, p.record_id)).json()["objection_id"]
        await kill_and_restart()

        async def marked() -> bool:
            return bool((await record(api, p.record_id))["under_objection"])

        await eventually(marked, within=10.0)
        assert (
            await step(api, objection_id, "accept", p.handler, reason="受理")
        ).status_code == 200
        await kill_and_restart()
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
        await kill_and_restart()
        decided = await step(
            api, objection_id, "decide", p.handler, decision="upheld", reason="有误"
        )
        assert decided.status_code == 200, decided.text
        await kill_and_restart()

        async def corrected() -> bool:
            seen = await record(api, p.record_id)
            return bool(seen["version"] == 2 and not seen["under_objection"])

        await eventually(corrected, within=10.0)
        await kill_and_restart()  # a restarted relay finds nothing left to publish
        await asyncio.sleep(1.0)
        versions = (await api.http.get(f"/v1/records/{p.record_id}/versions")).json()["versions"]
        assert [v["fields"]["fine_amount"] for v in versions] == [1.0, 0.3]
        kept = (await api.http.get(f"/v1/objections/{objection_id}", headers=p.handler)).json()
        assert kept["state"] == "upheld"
        assert [s["action"] for s in kept["transitions"]] == ["file", "accept", "verify", "decide"]
        assert not (await record(api, p.record_id))["under_objection"]
    finally:
        await close()  # type: ignore[misc]
        objections.stop()
