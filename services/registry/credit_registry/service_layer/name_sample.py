"""How common each trigram is among the registry's names, from a sample: which parts of a
search text are distinctive.

Names merely similar to a text are found by their trigrams. Asked for every name similar
to 凯有限责任公司, the trigram index collects the 135,000 names (of 1,000,000) that share its
有限责任公司 trigrams before any ranking or limit, some 60 ms; 卓有限公司 makes it read half
a million entries for each of 有限公, 限公司 and 公司. Candidates are instead the names
that hold one of the text's distinctive trigrams (凯有限, 卓有限: short index lists), and
among them those similar enough. A name similar through common trigrams alone (one more
X有限责任公司) is left out: it would be noise, not a near miss.
"""

from __future__ import annotations

import asyncio
import collections
import math
import time
from collections.abc import Awaitable, Callable, Sequence

from credit_common.text import trigrams

# Similar names are found through the trigram index as it is, unless its lists for the
# text's trigrams together hold more entries than this share of the names ...
HEAVY = 0.3
# ... then through the text's trigrams that fewer than this share of the names hold ...
DISTINCTIVE_SHARE = 0.001
# ... or fewer than this many names of the sample (a small registry) ...
FEW_NAMES = 20
# ... at most this many of them, the rarest.
MOST_DISTINCTIVE = 6


class NameSample:
    def __init__(
        self, load: Callable[[], Awaitable[Sequence[str]]], *, refresh_seconds: float = 600.0
    ) -> None:
        self._load = load
        self._refresh = refresh_seconds
        self._names = 0
        self._frequency: collections.Counter[str] = collections.Counter()
        self._loaded_at = -math.inf
        self._reloading: asyncio.Task[None] | None = None

    async def narrowing(self, text: str) -> list[str] | None:
        """None when the trigram index finds the names similar to the text at little cost;
        else the trigrams to find candidates through (the text's rarest, as pg_trgm pads
        them: "  凯" is a word that starts with 凯; none: the text is too common a one to
        look for similar names)."""
        grams = trigrams(text)
        if not grams:
            return None
        await self._fresh()
        if not self._names:
            return None
        if sum(self._frequency[g] for g in grams) < HEAVY * self._names:
            return None
        limit = max(DISTINCTIVE_SHARE * self._names, FEW_NAMES)
        rare = sorted((self._frequency[g], g) for g in grams if self._frequency[g] < limit)
        return [g for _, g in rare[:MOST_DISTINCTIVE]]

    async def _fresh(self) -> None:
        """The first search waits for the sample; later ones use it while a newer one is
        read in the background."""
        if self._names == 0 and self._loaded_at == -math.inf:
            await self._reload()
        elif time.monotonic() - self._loaded_at > self._refresh and self._reloading is None:
            self._reloading = asyncio.create_task(self._reload())
            self._reloading.add_done_callback(self._reloaded)

    def _reloaded(self, task: asyncio.Task[None]) -> None:
        self._reloading = None
        if not task.cancelled() and task.exception() is not None:
            self._loaded_at = time.monotonic()  # keep the old sample; try again later

    async def _reload(self) -> None:
        names = await self._load()
        frequency: collections.Counter[str] = collections.Counter()
        for name in names:
            frequency.update(trigrams(name))
        self._names, self._frequency = len(names), frequency
        self._loaded_at = time.monotonic()
