"""The query audit log: every read of credit information, written in batches off the
request path, chained by hashes so that any change or gap shows."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import functools
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import sqlalchemy as sa
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncConnection

from credit_common.db import Database, copy_escape, copy_lines, insert_values
from credit_common.timeutil import as_utc, utcnow
from credit_gateway.adapters.tables import query_audit

log = logging.getLogger(__name__)
GENESIS = "0" * 64
_LOCK = 0x41554454  # "AUDT": one chain writer at a time across replicas


class Query(NamedTuple):  # a tuple: a 10,000-code check makes 10,000 of them
    at: dt.datetime
    client_id: str
    department: str
    subject_key: str
    level: str
    purpose: str
    what: str
    request_id: str
    authorization_id: str = ""


class _Reads(NamedTuple):
    """Reads of many subjects by one request, queued as one item: its entries (the
    template with each subject key) are written on PostgreSQL from the parts they share,
    not made one by one (a Query an entry, and the entry split again to hash it, were a
    third of the writing of a 10,000-code check's entries). A single entry is written as
    a group of one."""

    template: Query
    subject_keys: Sequence[str]

    @property
    def others(self) -> tuple[object, ...]:
        return _others(self.template)

    def entries(self) -> list[Query]:
        return [self.template._replace(subject_key=key) for key in self.subject_keys]


def _entries(item: Query | _Reads) -> list[Query]:
    return [item] if isinstance(item, Query) else item.entries()


def _spilled(query: Query) -> dict[str, str]:
    return {**query._asdict(), "at": as_utc(query.at).isoformat()}


def _unspilled(value: dict[str, str]) -> Query:
    return Query(**{**value, "at": dt.datetime.fromisoformat(value["at"])})  # type: ignore[arg-type]


@dataclass(frozen=True)
class Logged:
    seq: int
    query: Query
    hash: str


# The canonical form of an entry: its fields as sorted compact JSON (ensure_ascii off),
# written field by field with the encoder's own string function: json.dumps of a dict
# per entry, and dataclasses.asdict before it (which deep-copies), were most of the
# gateway's CPU when a 10,000-code check was audited. The hashes are the same.
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))
_ORDER = sorted(Query._fields)
_encode_str = json.encoder.encode_basestring  # type: ignore[attr-defined]


@functools.lru_cache(maxsize=64)  # the entries of one request share their moment
def _iso(at: dt.datetime) -> str:
    """In UTC, as the entry is read back for `verify` (the moment stored, not its offset)."""
    return as_utc(at).isoformat()


def _field(query: Query, name: str) -> str:
    value = _iso(query.at) if name == "at" else getattr(query, name)
    encoded = _encode_str(value) if isinstance(value, str) else _CANONICAL.encode(value)
    return f'"{name}":{encoded}'


_SUBJECT = Query._fields.index("subject_key")
_COLUMNS = (*Query._fields, "prev_hash", "hash")  # an entry's row: the query, then its links


@functools.lru_cache(maxsize=64)
def _around_subject(others: tuple[object, ...]) -> tuple[str, str]:
    """The canonical form before and after the subject key, given the entry's other fields
    (in Query's order): the same for every entry of one request (a 10,000-code check writes
    10,000 entries that differ only there). A plain tuple, not `_replace`: 2 µs an entry."""
    shared = Query._make((*others[:_SUBJECT], "", *others[_SUBJECT:]))
    before = [_field(shared, n) for n in _ORDER if n < "subject_key"]
    after = [_field(shared, n) for n in _ORDER if n > "subject_key"]
    return "{" + "".join(f"{f}," for f in before) + '"subject_key":', "".join(
        f",{f}" for f in after
    ) + "}"


def _others(query: Query) -> tuple[object, ...]:
    """An entry's fields but its subject key, in Query's order (what a request's entries
    share)."""
    return query[:_SUBJECT] + query[_SUBJECT + 1 :]


def chain_hash(prev_hash: str, query: Query) -> str:
    before, after = _around_subject(_others(query))
    return _digest(prev_hash, before, query.subject_key, after)


def _digest(prev_hash: str, before: str, subject_key: str, after: str) -> str:
    """An entry's hash: of the previous hash and the entry's canonical form, given as
    `_around_subject` gives it and the subject key."""
    canonical = before + _encode_str(subject_key) + after
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


@functools.lru_cache(maxsize=64)
def _copy_around_subject(others: tuple[object, ...]) -> tuple[str, str]:
    """An entry's COPY line (in `_COLUMNS` order) before and after the subject key, up to
    its hashes, given its other fields: as `_around_subject`, once for a request's entries."""
    at, *head = others[:_SUBJECT]
    fields = [_iso(at), *head]  # type: ignore[arg-type]
    before = "".join(f"{copy_escape(str(f))}\t" for f in fields)
    after = "".join(f"\t{copy_escape(str(f))}" for f in others[_SUBJECT:])
    return before, after + "\t"


# Sets the anchor (KEYS[1]) to "<seq> <hash>" unless it holds a later entry already (the
# replicas write in turns, but anchor after their commits, in any order).
_ANCHOR_IF_LATER = """
local held = redis.call('GET', KEYS[1])
if held then
  local held_seq = tonumber(string.match(held, '^(%d+) '))
  if held_seq and held_seq >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2])
return 1
"""


def anchor_key(database_url: str) -> str:
    """The Redis key of a log's anchor: one per gateway database (its URL without the
    password), shared by the replicas writing it."""
    url = sa.engine.make_url(database_url)
    named = url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)
    return "credit:gateway:audit-head:" + hashlib.sha256(named.encode()).hexdigest()[:16]


class AuditLog:
    """Reads enqueue their entries; one task writes them in batches. Stopping flushes
    everything enqueued, so a clean stop loses nothing: with the database away, it tries
    for `stop_retry_seconds`, then keeps what is left in `spill_path` (read back into the
    queue, first, at the next start), and says so in the log."""

    def __init__(
        self,
        db: Database,
        *,
        batch: int = 10_000,
        every: float = 0.05,
        spill_path: Path | None = None,
        stop_retry_seconds: float = 10.0,
        max_backlog: int = 200_000,
        anchor: Redis | None = None,
    ) -> None:
        # A batch is one transaction (chain lock, last hash, COPY, commit), ~5 ms of CPU
        # apart from its rows: a 10,000-code check's entries in 20 batches of 500 cost the
        # gateway 200 ms of CPU, in one batch 90 ms.
        self.db = db
        self.batch = batch
        self.every = every
        self._queue: collections.deque[Query | _Reads] = collections.deque()
        # One flush at a time: a flush returns only when what was recorded before it is
        # written, including a batch the background task is writing at that moment.
        self._flushing = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.spill_path = spill_path
        self.stop_retry_seconds = stop_retry_seconds
        # Entries read back from the spill file are queued and not yet written.
        self._unspilled = False
        # Entries queued and not yet written (the queue holds groups of them), and how many
        # may wait before reads are refused (`full`).
        self._pending = 0
        self.max_backlog = max_backlog
        # The last entry written, kept outside the database too (Redis): entries removed
        # from the end of the table, with new ones written after, would leave a chain that
        # is whole. The writer chains new entries to the anchored one instead when the
        # table has lost it, and the check looks for it, so the removal shows as a break.
        self._anchor = anchor
        self._anchor_key = anchor_key(db.url)
        self._anchor_if_later = anchor.register_script(_ANCHOR_IF_LATER) if anchor else None
        self._anchor_failing = False  # logged once a spell, not at every flush

    def record(self, queries: Sequence[Query]) -> None:
        self._queue.extend(queries)
        self._pending += len(queries)

    def record_reads(self, template: Query, subject_keys: Sequence[str]) -> None:
        """One entry per subject key, each the template with that key."""
        if subject_keys:
            self._queue.append(_Reads(template, subject_keys))
            self._pending += len(subject_keys)

    @property
    def backlog(self) -> int:
        """Entries recorded and not written yet."""
        return self._pending

    def full(self) -> bool:
        """Whether `max_backlog` entries wait to be written: the database has refused
        them for a while. Reads are then refused (they would be answered unaudited, and the
        entries held in memory without bound) until the writes catch up."""
        return self._pending >= self.max_backlog

    def _take(self) -> list[_Reads]:
        """The next batch of up to `batch` entries from the queue, in order, as groups of
        entries that differ only in their subject key (reads split as needed)."""
        taken: list[_Reads] = []
        count = 0
        while self._queue and count < self.batch:
            item = self._queue.popleft()
            if isinstance(item, Query):
                item = _Reads(item, (item.subject_key,))
            room = self.batch - count
            if len(item.subject_keys) > room:
                self._queue.appendleft(_Reads(item.template, item.subject_keys[room:]))
                item = _Reads(item.template, item.subject_keys[:room])
            taken.append(item)
            count += len(item.subject_keys)
        return taken

    async def start(self) -> None:
        self._load_spill()
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Lets a write in progress finish (cancelling it could lose its batch), then
        writes whatever is still queued; what cannot be written is spilled."""
        if self._task is not None:
            self._stopping.set()
            await self._task
            self._task = None
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.stop_retry_seconds
        pause = 0.1
        while True:
            try:
                await self.flush()
                return
            except Exception:
                if loop.time() + pause > give_up:
                    log.exception("audit entries could not be written at stop")
                    break
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)
        self._spill()

    def _spill(self) -> None:
        """Keeps the queued entries in the spill file (all of them: any read back at start
        and not yet written are still queued), or else in the log: never dropped."""
        entries = [q for item in self._queue for q in _entries(item)]
        lines = "".join(json.dumps(_spilled(q), ensure_ascii=False) + "\n" for q in entries)
        if self.spill_path is not None:
            try:
                self.spill_path.parent.mkdir(parents=True, exist_ok=True)
                partial = self.spill_path.with_suffix(".partial")
                partial.write_text(lines, encoding="utf-8")
                os.replace(partial, self.spill_path)
                log.error(
                    "%d audit entries kept in %s; they are written at the next start",
                    len(entries),
                    self.spill_path,
                )
                return
            except OSError:
                log.exception("the audit spill file %s could not be written", self.spill_path)
        for line in lines.splitlines():
            log.error("audit entry not written: %s", line)

    def _load_spill(self) -> None:
        """Queues, first, the entries a stop could not write."""
        if self.spill_path is None or not self.spill_path.exists():
            return
        text = self.spill_path.read_text(encoding="utf-8")
        entries = [_unspilled(json.loads(line)) for line in text.splitlines() if line.strip()]
        self._queue.extendleft(reversed(entries))
        self._pending += len(entries)
        self._unspilled = bool(entries)
        if not entries:
            self.spill_path.unlink()
        log.warning("%d audit entries read back from %s", len(entries), self.spill_path)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.every)
            try:
                await self.flush()
            except Exception:
                log.exception("audit flush failed; the entries stay queued")

    async def flush(self) -> int:
        """Writes everything recorded so far; returns how many entries it wrote."""
        written = 0
        async with self._flushing:
            while self._queue:
                pending = self._take()
                try:
                    await self._write(pending)
                except BaseException:  # cancelled too: nothing taken from the queue is dropped
                    self._queue.extendleft(reversed(pending))  # first again, in order
                    raise
                done = sum(len(group.subject_keys) for group in pending)
                self._pending -= done
                written += done
            if self._unspilled and self.spill_path is not None:
                # Everything queued is written, the entries read back included.
                self.spill_path.unlink(missing_ok=True)
                self._unspilled = False
        return written

    async def anchored(self) -> tuple[int, str] | None:
        """The last entry the writers anchored (None: no anchor, or Redis away)."""
        return (await self.anchor_seen())[0]

    async def anchor_seen(self) -> tuple[tuple[int, str] | None, str, bool]:
        """The last entry the writers anchored, what was seen of the anchor in words (for
        the check's report: an anchor not looked at is not an anchor found intact), and
        whether what is held there is broken (a value that names no entry: only this code
        writes there)."""
        if self._anchor is None:
            return None, "not checked: no Redis URL is configured", False
        try:
            held = await self._anchor.get(self._anchor_key)
        except RedisError as error:
            self._anchor_away(error)
            return None, f"not checked: Redis did not answer ({error})", False
        if not held:
            return None, "none held in Redis", False
        entry = _anchor_entry(held)
        if entry is None:
            return None, f"unreadable: {self._anchor_key} holds {held!r}, naming no entry", True
        return entry, f"entry {entry[0]}", False

    async def _anchor_last(self, last: tuple[int, str] | None) -> None:
        if self._anchor_if_later is None or last is None:
            return
        try:
            await self._anchor_if_later(keys=[self._anchor_key], args=[last[0], last[1]])
        except RedisError as error:
            self._anchor_away(error)
            return
        if self._anchor_failing:
            self._anchor_failing = False
            log.info("the audit anchor is kept in Redis again")

    def _anchor_away(self, error: RedisError) -> None:
        if not self._anchor_failing:
            self._anchor_failing = True
            log.warning("the audit anchor cannot be used while Redis is away: %r", error)

    async def _write(self, groups: list[_Reads]) -> None:
        # Read before the chain lock, not under it (a Redis round trip): an anchor moves
        # only after a commit and only forward, so one read earlier is at or behind the
        # table's last entry unless that entry was lost.
        anchored = await self.anchored()
        async with self.db.transaction() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK)))
            last = await _last(conn)
            prev = last[1] if last else GENESIS
            if anchored is not None and (
                last is None
                or anchored[0] > last[0]
                or (anchored[0] == last[0] and anchored[1] != last[1])
            ):
                log.error(
                    "the query audit log lost its last entries: entry %d, anchored when it "
                    "was written, is not the table's last; new entries follow it, so that "
                    "the check shows the break",
                    anchored[0],
                )
                prev = anchored[1]
            await self._insert(conn, groups, prev)
            written = await _last(conn)
        await self._anchor_last(written)

    async def _insert(self, conn: AsyncConnection, groups: list[_Reads], prev: str) -> None:
        """Writes the entries, chained from `prev`, in the caller's transaction."""
        if conn.dialect.name == "postgresql":
            # Lines in COPY's text format, made from the parts a request's entries
            # share: psycopg's write_row took 33 ms for a 10,000-code check's entries.
            lines = []
            for group in groups:
                others = group.others
                before, after = _around_subject(others)
                copy_before, copy_after = _copy_around_subject(others)
                for key in group.subject_keys:
                    digest = _digest(prev, before, key, after)
                    lines.append(f"{copy_before}{copy_escape(key)}{copy_after}{prev}\t{digest}\n")
                    prev = digest
            await copy_lines(conn, query_audit, _COLUMNS, "".join(lines))
            return
        rows = []
        for query in (q for group in groups for q in group.entries()):
            digest = chain_hash(prev, query)
            rows.append((*query, prev, digest))
            prev = digest
        await insert_values(conn, query_audit, _COLUMNS, rows)

    async def search(
        self,
        *,
        client_id: str = "",
        subject_keys: Sequence[str] = (),
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        before: int | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> list[Logged]:
        """Entries newest first, of any of `subject_keys` (a subject's own and those of the
        subjects merged into it) when given; `before`: only those older than that entry (a
        page's next page: entries written meanwhile move nothing onto it, as with
        `offset`)."""
        await self.flush()
        a = query_audit
        query = sa.select(a)
        if client_id:
            query = query.where(a.c.client_id == client_id)
        if subject_keys:
            query = query.where(a.c.subject_key.in_(list(subject_keys)))
        if start:
            query = query.where(a.c.at >= start)
        if end:
            query = query.where(a.c.at < end)
        if before is not None:
            query = query.where(a.c.seq < before)
        async with self.db.read() as conn:
            rows = await conn.execute(query.order_by(a.c.seq.desc()).offset(offset).limit(limit))
            return [Logged(r.seq, _query(r), r.hash) for r in rows]

    async def verify(self) -> list[str]:
        """Recomputes the chain; returns a description of every break (none: intact).

        A gap in the numbers alone is no break: PostgreSQL's sequence hands out numbers to
        a write that is rolled back and tried again, and the chain shows nothing is missing
        where each entry names the hash of the one before it. Removing the newest entries
        leaves a shorter chain that is whole: `head` gives the last entry, to keep elsewhere
        and compare with later (`missing_heads`), and the writers anchor it in Redis
        (`anchored`), chaining what they write next to it if the table has lost it."""
        problems: list[str] = []
        prev, expected_seq = GENESIS, None
        async with self.db.snapshot() as conn:  # one state, and a cursor needs a transaction
            result = await conn.stream(sa.select(query_audit).order_by(query_audit.c.seq))
            async for row in result:
                if row.prev_hash != prev:
                    if expected_seq is not None and row.seq != expected_seq:
                        problems.append(f"entries {expected_seq}..{row.seq - 1} are missing")
                    problems.append(f"entry {row.seq} does not follow the entry before it")
                if chain_hash(row.prev_hash, _query(row)) != row.hash:
                    problems.append(f"entry {row.seq} was changed after it was written")
                prev, expected_seq = row.hash, row.seq + 1
        return problems

    async def missing_heads(self, heads: Iterable[tuple[int, str]]) -> list[str]:
        """Which heads kept by earlier checks or anchored by the writers are gone or
        different now (the log was cut short, or rewritten from there on)."""
        heads = list(heads)
        async with self.db.read() as conn:
            rows = await conn.execute(
                sa.select(query_audit.c.seq, query_audit.c.hash).where(
                    query_audit.c.seq.in_({seq for seq, _ in heads})
                )
            )
            now = {row.seq: row.hash for row in rows}
        problems = []
        for seq, digest in heads:
            if seq not in now:
                problems.append(
                    f"entry {seq}, the last one an earlier check or the writers kept, is gone"
                )
            elif now[seq] != digest:
                problems.append(f"entry {seq} is not the one an earlier check or the writers kept")
        return problems

    async def head(self) -> tuple[int, str] | None:
        """The last entry's number and hash (None: the log is empty)."""
        async with self.db.read() as conn:
            return await _last(conn)


async def _last(conn: AsyncConnection) -> tuple[int, str] | None:
    """The table's last entry: its number and hash."""
    row = (
        await conn.execute(
            sa.select(query_audit.c.seq, query_audit.c.hash)
            .order_by(query_audit.c.seq.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else (row.seq, row.hash)


def _query(row: sa.Row[tuple[object, ...]]) -> Query:
    m = row._mapping
    return Query(
        at=m["at"],
        client_id=m["client_id"],
        department=m["department"],
        subject_key=m["subject_key"],
        level=m["level"],
        purpose=m["purpose"],
        what=m["what"],
        request_id=m["request_id"],
        authorization_id=m["authorization_id"],
    )


def _anchor_entry(held: object) -> tuple[int, str] | None:
    """The entry an anchor value (`<seq> <hash>`) names, if it names one."""
    if not held:
        return None
    seq, _, digest = (held.decode() if isinstance(held, bytes) else str(held)).partition(" ")
    return (int(seq), digest) if seq.isdigit() and digest else None


__all__ = ["GENESIS", "AuditLog", "Logged", "Query", "chain_hash", "utcnow"]
