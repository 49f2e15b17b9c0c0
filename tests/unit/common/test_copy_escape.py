"""Values written into COPY text lines."""

from __future__ import annotations

from credit_common.db import copy_escape


def test_backslashes_tabs_and_line_breaks_are_escaped_and_nothing_else_is_touched() -> None:
    assert copy_escape("a\\tb\\\\c") == "a\\\\tb\\\\\\\\c"
    assert copy_escape("x\ty\nz\r\\") == "x\\ty\\nz\\r\\\\"
    assert copy_escape("\\N") == "\\\\N"  # not read back as NULL
    plain = '{"罚款":"通报批评","n":1}'
    assert copy_escape(plain) is plain
