"""Load shedding: past its limit of requests in progress the gateway answers 503 at once
(after a short wait for a place), and never holds back health and metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from e2e.conftest import gateway_settings, open_api
from support.processes import ServiceProcess

UNKNOWN = "/v1/subjects/91310115MA8BRK2A83"


async def test_past_its_limit_the_gateway_sheds_requests_and_serves_them_again_after(
    registry_process: ServiceProcess, make_database_url: Callable[[str], str], tmp_path: Path
) -> None:
    settings = gateway_settings(
        make_database_url("gw"),
        registry_process.address,
        tmp_path,
        max_in_flight=1,
        in_flight_wait_seconds=0.3,
    )
    api, close = await open_api(settings)
    http = api.http
    try:
        release = asyncio.Event()

        async def slow_body() -> AsyncIterator[bytes]:
            yield b'{"codes": ['
            await release.wait()  # the request holds the only place until then
            yield b'"91310115MA8BRK2A83"]}'

        def held() -> asyncio.Task[object]:
            release.clear()
            return asyncio.create_task(
                http.post(
                    "/v1/codes/validate",
                    content=slow_body(),
                    headers={"content-type": "application/json"},
                )
            )

        first = held()
        await asyncio.sleep(0.2)
        shed = await http.get(UNKNOWN)
        assert shed.status_code == 503, shed.text
        assert shed.headers["retry-after"] == "1" and shed.headers["x-request-id"]
        problem = shed.json()
        assert (problem["code"], problem["service"]) == ("service_unavailable", "gateway")
        assert (await http.get("/healthz")).status_code == 200
        metrics = (await http.get("/metrics")).text
        assert "credit_gateway_shed_total" in metrics and "credit_gateway_in_flight 1.0" in metrics
        release.set()
        assert (await first).status_code == 200  # type: ignore[attr-defined]

        # A request that finds a place within the wait is served.
        second = held()
        await asyncio.sleep(0.1)
        waiting = asyncio.create_task(http.get(UNKNOWN))
        await asyncio.sleep(0.1)
        release.set()
        assert (await second).status_code == 200  # type: ignore[attr-defined]
        assert (await waiting).status_code == 404  # served, not shed
        assert "credit_gateway_in_flight 0.0" in (await http.get("/metrics")).text
    finally:
        release.set()
        await close()  # type: ignore[misc]
