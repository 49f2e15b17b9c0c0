"""Generated client secrets can be typed on a command line and verify against their hash."""

from __future__ import annotations

from credit_gateway.adapters.secrets import hash_secret, new_secret, verify_secret


def test_a_new_secret_never_begins_with_a_dash_and_is_never_repeated() -> None:
    # One token in 64 began with "-" before the prefix: argparse then refused
    # `--admin-secret <secret>` ("expected one argument").
    made = [new_secret() for _ in range(2_000)]
    assert not [s for s in made if s.startswith("-")]
    assert len(set(made)) == len(made) and min(len(s) for s in made) >= 43


def test_a_secret_verifies_against_its_hash_and_nothing_else_does() -> None:
    secret = new_secret()
    stored = hash_secret(secret)
    assert verify_secret(secret, stored)
    assert not verify_secret(secret + "x", stored)
    assert not verify_secret(secret, "not-a-hash")
