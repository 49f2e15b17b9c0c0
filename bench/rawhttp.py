"""A minimal HTTP/1.1 keep-alive client for open-loop load: GETs only, answers read by
Content-Length and not parsed. httpx spends about a millisecond of the load generator's
CPU on each request, which on a two-core machine is taken from the services measured;
this spends a few tens of microseconds."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes


class RawHttp:
    def __init__(self, host: str, port: int, *, connections: int = 256) -> None:
        self.host = host
        self.port = port
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._slots = asyncio.Semaphore(connections)

    @classmethod
    def for_base(cls, base_url: str, **kwargs: int) -> RawHttp:
        host, _, port = base_url.removeprefix("http://").rstrip("/").partition(":")
        return cls(host, int(port or 80), **kwargs)

    async def get(self, path: str, headers: Mapping[str, str] | None = None) -> Reply:
        head = (
            f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
            + "\r\n"
        ).encode()
        async with self._slots:
            if self._idle:
                reader, writer = self._idle.pop()
                try:
                    return await self._exchange(reader, writer, head)
                except (asyncio.IncompleteReadError, ConnectionError):
                    pass  # the server closed the idle connection (keep-alive timeout): anew
            reader, writer = await asyncio.open_connection(self.host, self.port)
            return await self._exchange(reader, writer, head)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes
    ) -> Reply:
        writer.write(head)
        try:
            status_line = await reader.readuntil(b"\r\n")
            length, close = 0, False
            while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            body = await reader.readexactly(length)
        except BaseException:
            writer.close()
            raise
        if close:
            writer.close()
        else:
            self._idle.append((reader, writer))
        return Reply(int(status_line.split(b" ", 2)[1]), body)

    async def aclose(self) -> None:
        for _reader, writer in self._idle:
            writer.close()
        self._idle.clear()
