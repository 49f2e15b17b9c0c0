"""The gateway in-process (ASGI) in front of a real registry process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from credit_gateway import bootstrap
from credit_gateway.bootstrap import Gateway
from credit_gateway.entrypoints.app import create_app
from credit_gateway.settings import GatewaySettings
from support.processes import ServiceProcess

ADMIN_ID, ADMIN_SECRET = "admin", "test-admin-secret"


@dataclass
class Api:
    http: httpx.AsyncClient
    gateway: Gateway

    async def token(self, client_id: str, secret: str, scope: str | None = None) -> str:
        data = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
        if scope:
            data["scope"] = scope
        reply = await self.http.post("/oauth/token", data=data)
        assert reply.status_code == 200, reply.text
        return str(reply.json()["access_token"])

    async def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token(ADMIN_ID, ADMIN_SECRET)}"}

    async def client(
        self,
        scopes: list[str],
        department: str = "market_regulation",
        subject_code: str | None = None,
        **extra: object,
    ) -> dict[str, str]:
        """Creates a client with these scopes; returns its credentials and a bearer header."""
        body: dict[str, object] = {
            "name": "test client",
            "department": department,
            "scopes": scopes,
            **extra,
        }
        if subject_code:
            body["subject_code"] = subject_code
        reply = await self.http.post(
            "/v1/admin/clients", json=body, headers=await self.admin_headers()
        )
        assert reply.status_code == 201, reply.text
        created = reply.json()
        token = await self.token(created["client_id"], created["client_secret"])
        return {
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
            "Authorization": f"Bearer {token}",
        }


def gateway_settings(
    database_url: str, registry_address: str, tmp: Path, **extra: object
) -> GatewaySettings:
    return GatewaySettings(
        database_url=database_url,
        registry_address=registry_address,
        var_dir=tmp,
        admin_client_id=ADMIN_ID,
        admin_client_secret=ADMIN_SECRET,
        **extra,  # type: ignore[arg-type]
    )


async def open_api(settings: GatewaySettings) -> tuple[Api, Callable[[], object]]:
    bootstrap.migrate(settings)
    gateway = bootstrap.build(settings)
    await gateway.start()
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(gateway)), base_url="http://gateway"
    )

    async def close() -> None:
        await http.aclose()
        await gateway.stop()

    return Api(http, gateway), close


@pytest.fixture
async def api(
    registry_process: ServiceProcess, make_database_url: Callable[[str], str], tmp_path: Path
) -> AsyncIterator[Api]:
    settings = gateway_settings(make_database_url("gw"), registry_process.address, tmp_path)
    client, close = await open_api(settings)
    yield client
    await close()  # type: ignore[misc]


@pytest.fixture
async def records_api(
    registry_process: ServiceProcess,
    records_process: ServiceProcess,
    make_database_url: Callable[[str], str],
    tmp_path: Path,
) -> AsyncIterator[Api]:
    settings = gateway_settings(
        make_database_url("gw"),
        registry_process.address,
        tmp_path,
        records_address=records_process.address,
    )
    client, close = await open_api(settings)
    yield client
    await close()  # type: ignore[misc]


@pytest.fixture
async def lists_api(
    registry_process: ServiceProcess,
    records_process: ServiceProcess,
    lists_process: ServiceProcess,
    make_database_url: Callable[[str], str],
    tmp_path: Path,
) -> AsyncIterator[Api]:
    settings = gateway_settings(
        make_database_url("gw"),
        registry_process.address,
        tmp_path,
        records_address=records_process.address,
        lists_address=lists_process.address,
    )
    client, close = await open_api(settings)
    yield client
    await close()  # type: ignore[misc]


@pytest.fixture
async def redis_api(
    registry_process: ServiceProcess,
    records_process: ServiceProcess,
    lists_process: ServiceProcess,
    make_database_url: Callable[[str], str],
    redis_url: str,
    tmp_path: Path,
) -> AsyncIterator[Api]:
    """The gateway with Redis: rate limits and Idempotency-Key replays."""
    settings = gateway_settings(
        make_database_url("gw"),
        registry_process.address,
        tmp_path,
        records_address=records_process.address,
        lists_address=lists_process.address,
        redis_url=redis_url,
    )
    client, close = await open_api(settings)
    yield client
    await close()  # type: ignore[misc]


@pytest.fixture
async def objections_api(
    registry_process: ServiceProcess,
    records_process: ServiceProcess,
    objections_process: ServiceProcess,
    objections_env: dict[str, str],
    make_database_url: Callable[[str], str],
    tmp_path: Path,
) -> AsyncIterator[Api]:
    settings = gateway_settings(
        make_database_url("gw"),
        registry_process.address,
        tmp_path,
        records_address=records_process.address,
        lists_address=objections_env["LISTS_ADDRESS"],
        objections_address=objections_process.address,
    )
    client, close = await open_api(settings)
    yield client
    await close()  # type: ignore[misc]
