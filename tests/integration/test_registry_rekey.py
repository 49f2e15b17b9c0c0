"""Rotating the identity-number encryption key: old keys are read, the current one is
written, and the rekey job moves every stored number to it (registry use cases, real DB)."""

from __future__ import annotations

import logging
import os

import pytest
import sqlalchemy as sa

import credit_registry.__main__ as registry_main
from credit_registry import bootstrap
from credit_registry.adapters import tables
from credit_registry.adapters.crypto import UnknownKey, key_id
from credit_registry.domain import codes
from credit_registry.domain.subjects import Kind
from credit_registry.service_layer import commands
from credit_registry.service_layer.rekey import rekey
from credit_registry.settings import RegistrySettings


def _numbers(count: int) -> list[str]:
    bodies = [
        f"11010519{80 + i % 20:02d}0{1 + i % 9}1{i % 10}{i % 7}0{i % 10}" for i in range(count)
    ]
    return [b[:17] + codes._citizen_check_char(b[:17]) for b in bodies]


def _app(settings: RegistrySettings, key: str, old: list[str]) -> bootstrap.RegistryApp:
    return bootstrap.build(
        settings.model_copy(update={"pii_encryption_key": key, "pii_encryption_old_keys": old})
    )


async def _ciphers(app: bootstrap.RegistryApp) -> list[bytes]:
    async with app.db.read() as conn:
        rows = await conn.execute(
            sa.select(tables.subjects.c.id_cipher).where(tables.subjects.c.id_cipher.is_not(None))
        )
        return [bytes(r[0]) for r in rows]


async def test_a_new_key_reads_the_old_and_the_rekey_job_moves_every_number(
    registry_settings: RegistrySettings,
) -> None:
    bootstrap.migrate(registry_settings)
    numbers = _numbers(7)
    first = _app(registry_settings, "key-one", [])
    for number in numbers:
        await first.registry.register(
            commands.Register(kind=Kind.NATURAL_PERSON, name="张三", id_number=number)
        )
    # A number written before keys had ids (format 1: version byte, nonce, ciphertext).
    aead = first.registry.protector._ring[key_id("key-one")]
    nonce = os.urandom(12)
    old_format = b"\x01" + nonce + aead.encrypt(nonce, numbers[0].encode(), b"id_number")
    async with first.db.transaction() as conn:
        await conn.execute(
            sa.update(tables.subjects)
            .where(tables.subjects.c.code_key == first.registry.protector.lookup_key(numbers[0]))
            .values(id_cipher=old_format)
        )
    await first.db.dispose()

    rotated = _app(registry_settings, "key-two", ["key-one"])
    try:
        for number in numbers:  # served while nothing is rekeyed yet
            assert (await rotated.registry.get(number)).subject.code == number  # type: ignore[union-attr]
        done = await rekey(rotated.db, rotated.registry.protector, batch=3)
        assert (done.examined, done.rewritten) == (7, 7)
        assert all(rotated.registry.protector.current(c) for c in await _ciphers(rotated))
        again = await rekey(rotated.db, rotated.registry.protector, batch=3)
        assert (again.examined, again.rewritten) == (7, 0)
    finally:
        await rotated.db.dispose()

    only_new = _app(registry_settings, "key-two", [])
    try:
        for number in numbers:  # the old key is no longer needed
            assert (await only_new.registry.get(number)).subject.code == number  # type: ignore[union-attr]
    finally:
        await only_new.db.dispose()

    lost = _app(registry_settings, "key-three", [])
    try:
        with pytest.raises(UnknownKey):
            lost.registry.protector.decrypt((await _ciphers(lost))[0])
    finally:
        await lost.db.dispose()


async def test_the_rekey_command_says_the_old_keys_may_go_only_after_a_run_that_rewrote_none(
    registry_settings: RegistrySettings, caplog: pytest.LogCaptureFixture
) -> None:
    """A row changed while a run read it is left for the next run: the operator's cue to
    remove the old keys is a run that rewrote nothing."""
    bootstrap.migrate(registry_settings)
    first = _app(registry_settings, "key-one", [])
    try:
        for number in _numbers(2):
            await first.registry.register(
                commands.Register(kind=Kind.NATURAL_PERSON, name="张三", id_number=number)
            )
    finally:
        await first.db.dispose()
    rotated = registry_settings.model_copy(
        update={"pii_encryption_key": "key-two", "pii_encryption_old_keys": ["key-one"]}
    )
    caplog.set_level(logging.INFO, logger="credit_registry")
    said = []
    for _ in range(2):
        caplog.clear()
        await registry_main._rekey(rotated)
        said.append(next(r.getMessage() for r in caplog.records if "rekey done" in r.getMessage()))
    assert "2 rewritten" in said[0] and "run it again" in said[0]
    assert "may now be removed" not in said[0]
    assert "0 rewritten" in said[1] and "may now be removed" in said[1]
