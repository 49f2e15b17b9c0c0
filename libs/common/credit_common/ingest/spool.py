"""Spooling an upload to a temporary file (openpyxl reads files, not streams)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterable
from pathlib import Path

from credit_common.ingest.rows import TooLarge

_SPOOL_BUFFER = 1 << 20


async def spool_to_file(
    chunks: AsyncIterable[bytes],
    directory: str | os.PathLike[str] | None,
    limit_bytes: int,
    *,
    suffix: str = ".upload",
) -> Path:
    """Write an upload to a new temporary file in ``directory`` (the system's temporary
    directory when None) and return its path; the caller deletes it. Raises
    :class:`TooLarge` as soon as more than ``limit_bytes`` arrive, having deleted the
    partial file (also on any other failure or cancellation). Writes go to a worker
    thread in 1 MiB batches so the event loop is not blocked."""
    fd, name = tempfile.mkstemp(prefix="ingest-", suffix=suffix, dir=directory)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            total = 0
            pending: list[bytes] = []
            pending_size = 0
            async for chunk in chunks:
                total += len(chunk)
                if total > limit_bytes:
                    raise TooLarge(limit_bytes)
                pending.append(chunk)
                pending_size += len(chunk)
                if pending_size >= _SPOOL_BUFFER:
                    await asyncio.to_thread(out.write, b"".join(pending))
                    pending, pending_size = [], 0
            if pending:
                await asyncio.to_thread(out.write, b"".join(pending))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    return path
