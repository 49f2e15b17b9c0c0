"""The query audit's batched writer: a flush returns only when everything recorded before
it is written, including the batch the background writer holds at that moment."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from redis.asyncio import Redis

from credit_common.db import Database
from credit_gateway import __main__ as gateway_main
from credit_gateway import bootstrap
from credit_gateway.adapters.tables import query_audit
from credit_gateway.service_layer import audit as audit_module
from credit_gateway.service_layer.audit import AuditLog, Query
from credit_gateway.settings import GatewaySettings
from support.backends import take_away


def _query(i: int) -> Query:
    return Query(
        at=dt.datetime.now(dt.UTC),
        client_id="c",
        department="d",
        subject_key=f"s{i}",
        level="public",
        purpose="",
        what="report",
        request_id=str(i),
    )


async def test_a_flush_waits_for_the_batch_being_written(database_url: str, tmp_path: Path) -> None:
    bootstrap.migrate(GatewaySettings(database_url=database_url, var_dir=tmp_path))
    db = Database(database_url)
    audit = AuditLog(db, batch=50)
    try:
        for round_ in range(5):
            audit.record([_query(round_ * 200 + i) for i in range(200)])
            background = asyncio.create_task(audit.flush())  # the writer's own flush
            await asyncio.sleep(0)  # it has taken its first batch and is writing it
            await audit.flush()
            async with db.read() as conn:
                count = await conn.scalar(sa.text("SELECT count(*) FROM query_audit"))
            assert count == (round_ + 1) * 200
            await background
        assert await audit.verify() == []
    finally:
        await db.dispose()


async def test_entries_the_database_refuses_fill_the_log_up_to_its_limit_then_drain(
    database_url: str, tmp_path: Path
) -> None:
    """The database refusing writes: entries wait, counted, until `max_backlog` makes the
    log full (reads are then refused); once it is back a flush writes them all, in order
    and chained, and the log takes entries again."""
    bootstrap.migrate(GatewaySettings(database_url=database_url, var_dir=tmp_path))
    db = Database(database_url)
    audit = AuditLog(db, max_backlog=4)
    try:
        await db.engine.dispose()  # no pooled connection outlives the change
        bring_back = take_away(database_url)
        try:
            audit.record([_query(0), _query(1)])
            with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises
                await audit.flush()
            assert (audit.backlog, audit.full()) == (2, False)
            audit.record_reads(_query(2), ["k1", "k2"])
            with pytest.raises(Exception):  # noqa: B017
                await audit.flush()
            assert (audit.backlog, audit.full()) == (4, True)
        finally:
            bring_back()
        assert await audit.flush() == 4
        assert (audit.backlog, audit.full()) == (0, False)
        async with db.read() as conn:
            keys = (
                await conn.scalars(sa.text("SELECT subject_key FROM query_audit ORDER BY seq"))
            ).all()
        assert keys == ["s0", "s1", "k1", "k2"]
        assert await audit.verify() == []
    finally:
        await db.dispose()


async def test_reads_of_many_subjects_are_written_in_order_across_batches(
    database_url: str, tmp_path: Path
) -> None:
    """A request's reads of many subjects are queued as one item and made into entries as
    they are written: split across batches, between single entries, in the order recorded,
    each the template with its own subject key; the chain holds."""
    bootstrap.migrate(GatewaySettings(database_url=database_url, var_dir=tmp_path))
    db = Database(database_url)
    audit = AuditLog(db, batch=3)
    try:
        template = _query(0)._replace(subject_key="", request_id="many", what="restriction_check")
        audit.record([_query(1)])
        audit.record_reads(template, ["k1", "k2", "k3", "k4", "k5"])
        audit.record_reads(template, [])
        audit.record([_query(2)])
        assert await audit.flush() == 7
        async with db.read() as conn:
            rows = (
                await conn.execute(
                    sa.text("SELECT subject_key, request_id, what FROM query_audit ORDER BY seq")
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            ("s1", "1", "report"),
            *[(f"k{i}", "many", "restriction_check") for i in range(1, 6)],
            ("s2", "2", "report"),
        ]
        assert await audit.verify() == []
    finally:
        await db.dispose()


async def test_entries_keep_any_text_exactly_and_their_chain_holds(
    database_url: str, tmp_path: Path
) -> None:
    """Whatever a purpose holds (tabs, line breaks, backslashes, what COPY's text format
    reads as NULL) is stored as given, and the hashes written are the chain's."""
    bootstrap.migrate(GatewaySettings(database_url=database_url, var_dir=tmp_path))
    db = Database(database_url)
    audit = AuditLog(db)
    purposes = ["贷款\t审批", "line\nbreak\r\n", "back\\slash \\N", "\\N", '"quoted" {json}', ""]
    try:
        for i, purpose in enumerate(purposes):
            template = _query(i)._replace(subject_key="", purpose=purpose, department="d\\t")
            audit.record_reads(template, [f"k{i}a", f"k{i}\tb"])
        audit.record([_query(99)._replace(client_id="c\n2")])
        beijing = dt.datetime.now(dt.timezone(dt.timedelta(hours=8)))
        audit.record([_query(98)._replace(at=beijing)])  # hashed as stored: in UTC
        assert await audit.flush() == 2 * len(purposes) + 2
        async with db.read() as conn:
            rows = (
                await conn.execute(
                    sa.text(
                        "SELECT purpose, subject_key, department, client_id FROM query_audit"
                        " ORDER BY seq"
                    )
                )
            ).all()
        expected = [
            (p, f"k{i}{suffix}", "d\\t", "c")
            for i, p in enumerate(purposes)
            for suffix in ("a", "\tb")
        ]
        assert [tuple(r) for r in rows] == [
            *expected,
            ("", "s99", "d", "c\n2"),
            ("", "s98", "d", "c"),
        ]
        for cached in (audit_module._iso, audit_module._around_subject):
            cached.cache_clear()  # as the check command in a process of its own
        assert await audit.verify() == []
    finally:
        await db.dispose()


async def test_entries_a_stop_cannot_write_are_kept_and_written_at_the_next_start(
    database_url: str, tmp_path: Path
) -> None:
    """The database away at a stop: the entries go to the spill file, not nowhere, and the
    next start writes them first, in order, and removes the file."""
    bootstrap.migrate(GatewaySettings(database_url=database_url, var_dir=tmp_path))
    spill = tmp_path / "spill" / "audit.ndjson"
    away = Database(f"sqlite+aiosqlite:///{tmp_path / 'no such directory' / 'x.db'}")
    stopped = AuditLog(away, spill_path=spill, stop_retry_seconds=0.3)
    await stopped.start()
    stopped.record([_query(i) for i in range(3)])
    stopped.record_reads(_query(3), ["k1", "k2"])
    await stopped.stop()
    await away.dispose()
    assert len(spill.read_text(encoding="utf-8").splitlines()) == 5
    db = Database(database_url)
    restarted = AuditLog(db, spill_path=spill)
    try:
        await restarted.start()
        restarted.record([_query(9)])
        await restarted.stop()
        async with db.read() as conn:
            keys = (
                await conn.scalars(sa.text("SELECT subject_key FROM query_audit ORDER BY seq"))
            ).all()
        assert keys == ["s0", "s1", "s2", "k1", "k2", "s9"]
        assert not spill.exists()
        assert await restarted.verify() == []
    finally:
        await db.dispose()


async def test_numbers_skipped_by_a_rolled_back_write_are_no_break(
    database_url: str, tmp_path: Path
) -> None:
    """PostgreSQL's sequence hands numbers to a write that is rolled back (a batch tried
    again after the database was away): the numbers have a gap, the chain none, and the
    check finds the log intact. (SQLite gives the next number again: there the gap is made
    by an entry written with its own number, chained as the writer chains.)"""
    bootstrap.migrate(GatewaySettings(database_url=database_url, var_dir=tmp_path))
    db = Database(database_url)
    audit = AuditLog(db)
    try:
        audit.record([_query(1), _query(2)])
        await audit.flush()
        async with db.transaction() as conn:
            if conn.dialect.name == "postgresql":
                for _ in range(3):
                    await conn.scalar(
                        sa.text("SELECT nextval(pg_get_serial_sequence('query_audit', 'seq'))")
                    )
            else:
                seq, prev = (
                    await conn.execute(
                        sa.select(query_audit.c.seq, query_audit.c.hash)
                        .order_by(query_audit.c.seq.desc())
                        .limit(1)
                    )
                ).one()
                entry = _query(3)
                digest = audit_module.chain_hash(prev, entry)
                await conn.execute(
                    sa.insert(query_audit).values(
                        seq=seq + 4, **entry._asdict(), prev_hash=prev, hash=digest
                    )
                )
        audit.record([_query(4)])
        await audit.flush()
        async with db.read() as conn:
            numbers = list(await conn.scalars(sa.select(query_audit.c.seq).order_by("seq")))
        assert numbers[2] - numbers[1] > 1  # a gap
        assert await audit.verify() == []
    finally:
        await db.dispose()


async def test_the_check_finds_a_log_cut_short_by_the_head_an_earlier_check_kept(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Removing the newest entries leaves a whole chain: the check command keeps the last
    entry it found (`<var_dir>/gateway-audit-heads`) and the next check misses it."""
    settings = GatewaySettings(database_url=database_url, var_dir=tmp_path)
    bootstrap.migrate(settings)
    db = Database(database_url)
    audit = AuditLog(db)
    try:
        audit.record([_query(i) for i in range(5)])
        await audit.flush()
        assert await gateway_main.audit_check(settings) == 0
        out = capsys.readouterr().out
        assert "intact" in out
        assert "Redis anchor: not checked: no Redis URL is configured" in out
        audit.record([_query(9)])
        await audit.flush()
        assert await gateway_main.audit_check(settings) == 0  # grown, not cut
        async with db.transaction() as conn:  # what only the tables' owner could do
            if conn.dialect.name == "postgresql":
                await conn.execute(sa.text("ALTER TABLE query_audit DISABLE TRIGGER USER"))
            else:
                await conn.execute(sa.text("DROP TRIGGER query_audit_no_delete"))
            last = await conn.scalar(sa.select(sa.func.max(query_audit.c.seq)))
            await conn.execute(sa.delete(query_audit).where(query_audit.c.seq == last))
        assert await audit.verify() == []  # the chain alone cannot tell
        assert await gateway_main.audit_check(settings) == 1
        assert f"entry {last}, the last one an earlier check or the writers kept, is gone" in (
            capsys.readouterr().out
        )
    finally:
        await db.dispose()


async def test_entries_removed_from_the_end_show_as_a_break_by_the_anchor_the_writers_keep(
    database_url: str,
    tmp_path: Path,
    redis: Redis,
    redis_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """After a check, entries are written (a client's snooping) and then removed from the
    end of the table: no head kept by a check is missing, and entries written afterwards
    would chain to what is left. The writers anchor their last entry in Redis: the check
    misses it, and what is written next follows it, not the table's last entry."""
    settings = GatewaySettings(database_url=database_url, var_dir=tmp_path, redis_url=redis_url)
    bootstrap.migrate(settings)
    db = Database(database_url)
    audit = AuditLog(db, anchor=redis)
    try:
        audit.record([_query(i) for i in range(5)])
        await audit.flush()
        assert await gateway_main.audit_check(settings) == 0
        checked = await audit.head()
        assert checked is not None and await audit.anchored() == checked
        assert f"Redis anchor: entry {checked[0]}\n" in capsys.readouterr().out
        audit.record([_query(i) for i in range(5, 10)])
        await audit.flush()
        async with db.transaction() as conn:  # what only the tables' owner could do
            if conn.dialect.name == "postgresql":
                await conn.execute(sa.text("ALTER TABLE query_audit DISABLE TRIGGER USER"))
            else:
                await conn.execute(sa.text("DROP TRIGGER query_audit_no_delete"))
            await conn.execute(sa.delete(query_audit).where(query_audit.c.seq > checked[0]))
        assert await audit.verify() == []  # the chain alone cannot tell
        assert await audit.missing_heads([checked]) == []  # nor the check's own head
        assert await gateway_main.audit_check(settings) == 1  # the anchored entry is gone
        audit.record([_query(i) for i in range(10, 13)])
        await audit.flush()
        assert any("does not follow the entry before it" in p for p in await audit.verify())
        assert await gateway_main.audit_check(settings) == 1
        # An anchor overwritten with what names no entry is a break, not "none held".
        await redis.set(audit_module.anchor_key(db.url), "junk")
        capsys.readouterr()
        assert await gateway_main.audit_check(settings) == 1
        assert "BROKEN: the Redis anchor is unreadable: " in capsys.readouterr().out
    finally:
        await db.dispose()
