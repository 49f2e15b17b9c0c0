"""Killing the objections service at any step of an objection's life loses and repeats
nothing: after a restart the objection reaches its end, the record's mark is set and
cleared, and the correction is applied exactly once."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from e2e.conftest import gateway_settings, open_api
from e2e.test_gateway_objections import eventually
from e2e.test_objections_chaos import upheld_correction
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
        await upheld_correction(api, kill_and_restart)
    finally:
        await close()  # type: ignore[misc]
        objections.stop()
