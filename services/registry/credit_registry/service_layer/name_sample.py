"""How common each trigram is among the registry's names, from a sample: which parts of a
search text are distinctive.

Names merely similar to a text are found by their trigrams. Asked for every name similar
to 凯有限责任公司, the trigram index collects the 135,000 names (of 1,000,000) that share its
有限责任公司 trigrams, some 60 ms, and ranking them all would take longer; 呼和浩特市蓝 is
similar to the 11,000 names that start with 呼和浩特市 (130 ms to rank). Candidates are
then the names that hold one of the text's distinctive trigrams (凯有限, 特市蓝: short
index lists), ranked all. A name similar through common trigrams alone (one more
X有限责任公司) is left out: it would be noise, not a near miss.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence

from credit_common.text import trigrams, words
from credit_registry.adapters.repository import WORD_SIMILARITY

log = logging.getLogger(__name__)

# Similar names are found through the trigram index as it is, unless more than this share
# of the names may be similar (as many hold the trigrams that would make one similar) ...
BROAD = 0.002
# ... or the index lists of the text's trigrams together hold more entries than this share
# of the names ...
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
        self._first_load = asyncio.Lock()
        self._reloading: asyncio.Task[None] | None = None

    async def narrowing(self, text: str) -> list[str] | None:
        """None when the trigram index finds the names similar to the text at little cost;
        else the trigrams to find candidates through (the text's rarest; none: the text
        is too common a one to look for similar names). A text of one word may name its
        padded trigrams ("  凯": it starts with 凯)."""
        grams = trigrams(text)
        if not grams or not await self._fresh():
            return None
        counts = sorted((self._frequency[g] for g in grams), reverse=True)
        needed = math.ceil(WORD_SIMILARITY * len(grams))
        broad = counts[needed - 1] > BROAD * self._names
        if not broad and sum(counts) < HEAVY * self._names:
            return None
        if len(words(text)) > 1:  # a padded trigram marks a word's edge, not the name's
            grams = {g for g in grams if " " not in g}
        limit = max(DISTINCTIVE_SHARE * self._names, FEW_NAMES)
        rare = sorted((self._frequency[g], g) for g in grams if self._frequency[g] < limit)
        return [g for _, g in rare[:MOST_DISTINCTIVE]]

    async def _fresh(self) -> bool:
        """Whether there is a sample. The first search waits for it; later ones use it
        while a newer one is read in the background."""
        if self._loaded_at == -math.inf:
            async with self._first_load:
                if self._loaded_at == -math.inf:
                    try:
                        await self._reload()
                    except Exception:
                        log.warning("name sample: could not read it; trying later", exc_info=True)
                        self._loaded_at = time.monotonic() - self._refresh + 60.0
        elif time.monotonic() - self._loaded_at > self._refresh and self._reloading is None:
            self._reloading = asyncio.create_task(self._reload())
            self._reloading.add_done_callback(self._reloaded)
        return self._names > 0

    def _reloaded(self, task: asyncio.Task[None]) -> None:
        self._reloading = None
        if not task.cancelled() and (error := task.exception()) is not None:
            log.warning("name sample: could not read it again; keeping the old one: %s", error)
            self._loaded_at = time.monotonic()

    async def _reload(self) -> None:
        names = await self._load()
        # Counting 4,096 names' trigrams takes some 0.1 s: in a thread, so that the event
        # loop goes on answering meanwhile.
        frequency = await asyncio.to_thread(_count, names)
        self._names, self._frequency = len(names), frequency
        self._loaded_at = time.monotonic()


def _count(names: Sequence[str]) -> collections.Counter[str]:
    frequency: collections.Counter[str] = collections.Counter()
    for name in names:
        frequency.update(trigrams(name))
    return frequency
