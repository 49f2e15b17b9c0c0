"""Rows gathered into chunks by their count and by their encoded size."""

from __future__ import annotations

from credit.records.v1 import records_pb2 as rec
from credit_common.ingest.chunks import FRAME_BYTES, Chunks, encoded_size


def sent(chunks: Chunks[str], rows: list[tuple[str, int]]) -> list[list[str]]:
    out = [batch for row, size in rows for batch in chunks.add(row, size)]
    return [*out, last] if (last := chunks.take()) else out


def test_a_chunk_ends_at_its_row_count() -> None:
    rows = [(f"r{i}", 10) for i in range(5)]
    assert sent(Chunks(2, 1000), rows) == [["r0", "r1"], ["r2", "r3"], ["r4"]]


def test_a_chunk_ends_before_the_row_that_would_take_it_past_its_bytes() -> None:
    rows = [("a", 40), ("b", 40), ("c", 30), ("d", 100), ("e", 1)]
    assert sent(Chunks(1000, 100), rows) == [["a", "b"], ["c"], ["d"], ["e"]]


def test_a_row_may_end_one_chunk_by_its_size_and_the_next_by_the_count() -> None:
    chunks: Chunks[str] = Chunks(1, 100)
    assert chunks.add("a", 60) == [["a"]]
    assert chunks.add("b", 60) == [["b"]]
    assert chunks.take() == []


def test_a_row_fits_up_to_the_chunks_bytes() -> None:
    chunks: Chunks[str] = Chunks(10, 100)
    assert chunks.fits(100) and not chunks.fits(101)


def test_the_encoded_size_counts_the_rows_text_in_utf8_and_its_framing() -> None:
    small = rec.IngestRow(row=1, fields_json="{}")
    large = rec.IngestRow(row=1, fields_json='{"note": "' + "信" * 1000 + '"}')
    assert encoded_size(small) == small.ByteSize() + FRAME_BYTES
    assert encoded_size(large) - encoded_size(small) > 3000
    chunk = rec.IngestRecordsRequest(rows=rec.IngestRows(rows=[small, large] * 50))
    assert chunk.ByteSize() <= 100 * (encoded_size(small) + encoded_size(large)) // 2
