"""Work that goes on after its caller has moved on, held until it ends; work done again
and again until the service stops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


class BackgroundTasks:
    """Tasks started and not awaited, held here (a task no one refers to may be collected
    before it ends) and ended with their owner (`drain`)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def start(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, grace: float = 2.0) -> None:
        """Waits up to `grace` s for the work still under way, then cancels what is left."""
        if not self._tasks:
            return
        _done, late = await asyncio.wait(set(self._tasks), timeout=grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)


async def repeat(
    stop: asyncio.Event,
    every: float,
    job: Callable[[], Awaitable[object]],
    what: str,
    *,
    at_once: bool = False,
) -> None:
    """Runs `job` every `every` seconds until `stop` is set: first at once with `at_once`,
    else after one interval (the caller has done it at start). A run that fails is logged;
    the next comes as usual."""
    wait = not at_once
    while True:
        if wait:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)
        wait = True
        if stop.is_set():
            return
        try:
            await job()
        except Exception:
            log.exception("%s failed; trying again in %s s", what, every)
