"""The garbage collector tuned for a server process, once it has started.

Start-up leaves a few hundred thousand long-lived objects (modules, protobuf descriptors,
SQLAlchemy metadata, the app) that every full collection would walk again; a batch call
(10,000 codes, a 2,000-row bulk chunk) allocates tens of thousands of container objects,
which with the default thresholds (700, 10, 10) sets off collection after collection, a
full one every few calls: about a fifth of a 10,000-code validation's time in the
registry, and its slowest calls. So, once serving is about to begin: what start-up made
is frozen (never scanned again; it lives as long as the process anyway), and the young
generation is collected after 50,000 new objects instead of 700. Reference counting still
frees almost everything at once; only cycles wait for a collection, a little longer."""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000
OLDER_THRESHOLDS = (20, 20)


def settle() -> None:
    """Freezes what start-up created and raises the collection thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
