"""Each service's `serve` hands its background loops the stop event that SIGTERM sets.

The loops (outbox relay, stream consumers, the lists clock) must learn of a stop at once
and end on their own, finishing what they hold, within the shutdown grace; cancelling
them is only the last resort. The services used to create the loops' stop event apart
from the one the signal set (the registry's relay got one nothing ever set) and set it
only after cancelling them: a consumer lost its batch in hand that way (left pending, and
applied by another replica after the events that followed it).

The loops here are stand-ins, patched into each service's `serve`, which otherwise runs
as in its process: its app, its gRPC server, serve_until_stopped, a real SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

import credit_common.serving as common_serving
import credit_lists.__main__ as lists_main
import credit_objections.__main__ as objections_main
import credit_records.__main__ as records_main
import credit_registry.__main__ as registry_main
from credit_common import heap
from credit_lists import bootstrap as lists_bootstrap
from credit_lists.service_layer.clock import Clock
from credit_lists.settings import ListsSettings
from credit_objections import bootstrap as objections_bootstrap
from credit_objections.settings import ObjectionsSettings
from credit_records import bootstrap as records_bootstrap
from credit_records.settings import RecordsSettings
from credit_registry import bootstrap as registry_bootstrap
from credit_registry.settings import RegistrySettings
from support.processes import free_port

FINISHING = 0.3  # how long a stand-in loop takes to finish what it holds once stopped
GRACE = 20.0  # long: a slow machine must not make the stand-ins late


class Loops:
    """Stand-in background loops: each notes what happened to it."""

    def __init__(self) -> None:
        self.seen: dict[str, list[str]] = {}
        self.started = asyncio.Event()
        self.expected: set[str] = set()

    def loop(self, name: str, stop: asyncio.Event) -> Coroutine[Any, Any, None]:
        self.expected.add(name)

        async def run() -> None:
            seen = self.seen.setdefault(name, [])
            seen.append("started")
            if set(self.seen) == self.expected:
                self.started.set()
            try:
                await stop.wait()
                seen.append("stop set")
                await asyncio.sleep(FINISHING)  # finishing its batch, its pass
                seen.append("returned")
            except asyncio.CancelledError:
                seen.append("cancelled")
                raise

        return run()


@pytest.fixture
async def sigterm(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Callable[[], None]]:
    """Sends this process SIGTERM; removes the service's handlers afterwards, so the test
    session's loop keeps none."""
    monkeypatch.setattr(heap, "settle", lambda: None)  # not this test process's collector
    yield lambda: os.kill(os.getpid(), signal.SIGTERM)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(sig)


def patch_loops(service: str, loops: Loops, monkeypatch: pytest.MonkeyPatch) -> None:
    """Puts stand-ins in place of the service's relay, consumers and clock."""

    def event_loops(
        db: Any, redis: Any, events: Any, handlers: Any, stop: asyncio.Event
    ) -> list[Awaitable[None]]:
        stand_ins = [loops.loop("relay", stop)]
        if handlers is not None:
            stand_ins.append(loops.loop("consumers", stop))
        return stand_ins

    monkeypatch.setattr(common_serving, "event_loops", event_loops)
    if service == "lists":

        def clock_run(self: Clock, stop: asyncio.Event, *, every: float = 1.0) -> Any:
            return loops.loop("clock", stop)

        monkeypatch.setattr(Clock, "run", clock_run)


def serving(
    service: str, database_url: str, redis_url: str, tmp_path: Path
) -> Coroutine[Any, Any, None]:
    """The service's `serve`, on its own migrated database and a free port."""
    common: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": redis_url,
        "var_dir": tmp_path,
        "grpc_host": "127.0.0.1",
        "grpc_port": free_port(),
        "shutdown_grace_seconds": GRACE,
    }
    nowhere = "127.0.0.1:1"  # never called here
    if service == "registry":
        registry = RegistrySettings(**common)
        registry_bootstrap.migrate(registry)
        return registry_main.serve(registry)
    if service == "records":
        records = RecordsSettings(**common, registry_address=nowhere)
        records_bootstrap.migrate(records)
        return records_main.serve(records)
    if service == "lists":
        lists = ListsSettings(**common, registry_address=nowhere, records_address=nowhere)
        lists_bootstrap.migrate(lists)
        return lists_main.serve(lists)
    objections = ObjectionsSettings(
        **common, registry_address=nowhere, records_address=nowhere, lists_address=nowhere
    )
    objections_bootstrap.migrate(objections)
    return objections_main.serve(objections)


@pytest.mark.parametrize("service", ["registry", "records", "lists", "objections"])
async def test_sigterm_sets_the_loops_stop_at_once_and_lets_them_return(
    service: str,
    make_database_url: Callable[[str], str],
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sigterm: Callable[[], None],
) -> None:
    loops = Loops()
    patch_loops(service, loops, monkeypatch)
    task = asyncio.create_task(
        serving(service, make_database_url(service[:3]), redis_url, tmp_path)
    )
    try:
        started = asyncio.ensure_future(loops.started.wait())
        await asyncio.wait({started, task}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        if task.done():  # no signal handler then: a SIGTERM would end the test session
            task.result()
            raise AssertionError(f"{service} returned before the signal")
        assert loops.started.is_set(), f"{service}: its loops did not start within 60s"
        loop = asyncio.get_running_loop()
        signalled = loop.time()
        sigterm()
        await asyncio.wait_for(task, GRACE + 10)
        took = loop.time() - signalled
    finally:
        if not task.done():
            task.cancel()
    # Every loop saw the stop and returned by itself; none was cancelled.
    assert loops.seen == {name: ["started", "stop set", "returned"] for name in loops.expected}
    expected = {"relay"} | ({"consumers"} if service != "registry" else set())
    assert loops.expected == expected | ({"clock"} if service == "lists" else set())
    assert took < GRACE / 2  # it did not wait for the grace to run out
