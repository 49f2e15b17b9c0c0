"""A bulk load lists at most so many rejected rows: the lowest-numbered ones, in row order,
whatever order they were rejected in (a chunk is checked while the one before it is
stored, and storing rejects rows too). The first ones rejected were listed before."""

from __future__ import annotations

from credit_common.errors import FieldViolation
from credit_records.service_layer.ingest import IngestResult


def test_the_lowest_rows_are_listed_in_row_order_whatever_order_they_came_in() -> None:
    result = IngestResult()
    for row in (42, 88, 121, 200, 17, 251, 3, 99):
        result.keep(row, [FieldViolation("row", f"row {row}")], limit=4)
    assert [row for row, _ in result.rejected] == [3, 17, 42, 88]
    assert [errors[0].message for _, errors in result.rejected] == [
        "row 3",
        "row 17",
        "row 42",
        "row 88",
    ]


def test_under_the_limit_every_rejection_is_listed_and_a_row_twice_is_kept_twice() -> None:
    result = IngestResult()
    for row in (5, 2, 5):
        result.keep(row, [FieldViolation("field", "why")], limit=10)
    assert [row for row, _ in result.rejected] == [2, 5, 5]
    nothing = IngestResult()
    nothing.keep(1, [], limit=0)
    assert nothing.rejected == []
