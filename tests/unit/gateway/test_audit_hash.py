"""The audit chain's hash is part of what is stored: a change to how it is computed would
make every stored chain look tampered with. This pins it to a value computed when the
chain was introduced."""

from __future__ import annotations

import datetime as dt

from credit_gateway.service_layer.audit import GENESIS, Query, chain_hash


def test_the_chain_hash_of_an_entry_is_stable() -> None:
    query = Query(
        at=dt.datetime(2026, 11, 27, 3, 4, 5, 678000, tzinfo=dt.UTC),
        client_id="agency-报表",
        department="market_regulation",
        subject_key="91350100M000100Y43",
        level="shared",
        purpose="招标审查",
        what="restriction_check",
        request_id="r-1",
    )
    assert (
        chain_hash(GENESIS, query)
        == "42972a1b5e3420c04fb37b83a52dda7aeed541b5f7cfbbe1a30342fbc2fd25b6"
    )
    assert chain_hash("f" * 64, query) != chain_hash(GENESIS, query)
