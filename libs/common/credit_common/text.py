"""Text similarity as pg_trgm computes it, for SQLite (registered as `similarity`)."""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    """The words pg_trgm splits a text into (lower-cased)."""
    return _WORD.findall(text.lower())  # type: ignore[no-any-return]


def trigrams(text: str) -> set[str]:
    grams: set[str] = set()
    for word in words(text):
        padded = f"  {word} "
        grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return grams


def trigram_similarity(left: str | None, right: str | None) -> float:
    if not left or not right:
        return 0.0
    a, b = trigrams(left), trigrams(right)
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)
