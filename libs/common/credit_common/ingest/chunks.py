"""Rows gathered into the chunks a stream sends on: so many rows, and so many bytes."""

from __future__ import annotations

from typing import Generic, TypeVar

from google.protobuf.message import Message

Row = TypeVar("Row")

FRAME_BYTES = 16
"""More than a message takes beyond its own bytes as an element of a repeated field (its
tag and length) or as the chunk around those."""


def encoded_size(message: Message) -> int:
    """What a message takes in a chunk, its framing counted."""
    return message.ByteSize() + FRAME_BYTES


class Chunks(Generic[Row]):
    """Rows gathered into chunks of at most `max_rows` rows and `max_bytes` bytes. A row
    past `max_bytes` on its own is the caller's to refuse before it comes here (`fits`)."""

    def __init__(self, max_rows: int, max_bytes: int) -> None:
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self._rows: list[Row] = []
        self._bytes = 0

    def fits(self, size: int) -> bool:
        """Whether a row of `size` bytes fits in a chunk at all."""
        return size <= self.max_bytes

    def add(self, row: Row, size: int) -> list[list[Row]]:
        """Adds a row of `size` bytes; answers the chunks it completed, to send in order:
        the one before it when it would take that past `max_bytes`, and the one it fills
        to `max_rows`."""
        done = []
        if self._rows and self._bytes + size > self.max_bytes:
            done.append(self.take())
        self._rows.append(row)
        self._bytes += size
        if len(self._rows) >= self.max_rows:
            done.append(self.take())
        return done

    def take(self) -> list[Row]:
        """The rows gathered and not yet sent (at the end of the stream), and a new chunk."""
        rows, self._rows, self._bytes = self._rows, [], 0
        return rows
