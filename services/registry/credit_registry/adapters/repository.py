"""Reads and writes subjects; never commits (the use case does)."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import functools
import math
import uuid
from collections.abc import Callable, Container, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from credit_common.db import among
from credit_registry.adapters import tables as t
from credit_registry.adapters.crypto import IdentityProtector
from credit_registry.domain.subjects import Kind, LegacyCode, Status, Subject

MAX_MERGE_HOPS = 16
# A name search first looks for its fragment among this many subjects in id order (an
# index-only walk of 2-3 ms on PostgreSQL) ...
SEARCH_SAMPLE = 4096
# ... and when it finds at least this many there (one name in 256), the fragment is
# common: its matches come in id order, found by walking, not ranked by name length.
COMMON_MATCHES = 16
# pg_trgm's default word_similarity_threshold: the share of the text's trigrams a
# similar name holds.
WORD_SIMILARITY = 0.6
# Enum members by their stored value: a dict lookup (0.04 µs) where calling the enum
# (`Kind(value)`) takes 0.35 µs, twice a subject in a 10,000-code batch.
_KIND = {k.value: k for k in Kind}
_STATUS = {s.value: s for s in Status}
SUMMARY_COLUMNS = (
    t.subjects.c.id,
    t.subjects.c.code_key,
    t.subjects.c.id_cipher,
    t.subjects.c.kind,
    t.subjects.c.name,
    t.subjects.c.status,
    t.subjects.c.merged_into,
)


class SubjectRepository:
    def __init__(self, conn: AsyncConnection, protector: IdentityProtector) -> None:
        self.conn = conn
        self.protector = protector

    def _row_to_subject(self, row: sa.RowMapping) -> Subject:
        summary = self._row_to_summary(row)
        return dataclasses.replace(
            summary,
            registration_authority=row["registration_authority"],
            org_category=row["org_category"],
            division_code=row["division_code"],
            org_code=row["org_code"] or "",
            legal_representative=row["legal_representative"],
            registered_on=row["registered_on"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    async def id_for_key(self, code_key: str) -> uuid.UUID | None:
        return await self.conn.scalar(
            sa.select(t.subjects.c.id).where(t.subjects.c.code_key == code_key)
        )

    async def id_for_legacy(self, value: str) -> uuid.UUID | None:
        return await self.conn.scalar(
            sa.select(t.legacy_codes.c.subject_id).where(t.legacy_codes.c.value == value).limit(1)
        )

    def _among(self, column: sa.Column[str], values: list[str]) -> sa.ColumnElement[bool]:
        return among(self.conn.dialect.name, column, values, sa.String())

    async def _rows_for_keys(
        self, keys: Sequence[str], columns: Sequence[Any]
    ) -> list[sa.RowMapping]:
        """`columns` of the subjects filed under these keys, each row with the key that found
        it (`filed_key`): by code key, then by legacy code for the keys not found. Without
        columns, only the keys: both indexes answer alone (no table rows read). Rows here
        and below are mappings read by key, not Rows' attributes: see credit_common.db."""
        rows: list[sa.RowMapping] = []
        if len(keys) <= _FEW_KEYS:  # one code's lookup: statements built once
            code_query, legacy_query = _statements_for_few(tuple(columns))
            rows = list((await self.conn.execute(code_query, {"keys": list(keys)})).mappings())
            hit = {r["filed_key"] for r in rows}
            legacy = _maybe_legacy(keys, hit)
            if legacy:
                rows += (await self.conn.execute(legacy_query, {"keys": legacy})).mappings()
            return rows
        lc = t.legacy_codes
        step = 10_000 if self.conn.dialect.name == "postgresql" else 900
        for start in range(0, len(keys), step):
            chunk = list(keys[start : start + step])
            by_code = await self.conn.execute(
                _by_code(columns).where(self._among(t.subjects.c.code_key, chunk))
            )
            found = by_code.mappings().all()
            rows += found
            hit = {r["filed_key"] for r in found}
            legacy = _maybe_legacy(chunk, hit)
            if legacy:
                by_legacy = await self.conn.execute(
                    _by_legacy(columns).where(self._among(lc.c.value, legacy))
                )
                rows += by_legacy.mappings().all()
        return rows

    async def filed_keys(self, keys: Sequence[str]) -> set[str]:
        """The keys among these that a subject is filed under (code key or legacy code)."""
        return {r["filed_key"] for r in await self._rows_for_keys(keys, ())}

    async def ids_for_keys(self, keys: Sequence[str]) -> dict[str, uuid.UUID]:
        """Subject ids by code key, then by legacy code for the keys not found."""
        found: dict[str, uuid.UUID] = {}
        for r in await self._rows_for_keys(keys, (t.subjects.c.id,)):
            found.setdefault(r["filed_key"], r["id"])
        return found

    async def subjects_for_keys(
        self, keys: Sequence[str]
    ) -> tuple[dict[str, uuid.UUID], dict[uuid.UUID, Subject]]:
        """ids_for_keys and load_many (with details) of them. On PostgreSQL one code's
        subject found by its code key comes with its histories in one query: a lookup by
        code, the gateway's most frequent call, is one round trip."""
        if self.conn.dialect.name != "postgresql" or len(keys) > _FEW_KEYS:
            found = await self.ids_for_keys(keys)
            return found, await self.load_many(found.values(), details=True)
        rows = await self.conn.execute(_with_details_query(by_key=True), {"keys": list(keys)})
        subjects = {}
        found = {}
        for row in rows.mappings():
            found[row["filed_key"]] = row["id"]
            subjects[row["id"]] = self._row_with_details(row)
        legacy = _maybe_legacy(keys, found)
        if legacy:
            _, legacy_query = _statements_for_few((t.subjects.c.id,))
            for r in (await self.conn.execute(legacy_query, {"keys": legacy})).mappings():
                found.setdefault(r["filed_key"], r["id"])
            subjects.update(await self.load_many(set(found.values()) - set(subjects)))
        return found, subjects

    async def summaries_for_keys(
        self, keys: Sequence[str]
    ) -> tuple[dict[str, uuid.UUID], dict[uuid.UUID, Subject]]:
        """ids_for_keys and load_many(details=False) in one query per chunk: the subject
        ids by key (code key, then legacy code) and their summaries."""
        found: dict[str, uuid.UUID] = {}
        subjects: dict[uuid.UUID, Subject] = {}
        for row in await self._rows_for_keys(keys, SUMMARY_COLUMNS):
            found.setdefault(row["filed_key"], row["id"])
            if row["id"] not in subjects:
                subjects[row["id"]] = self._row_to_summary(row)
        return found, subjects

    async def load(
        self, subject_id: uuid.UUID, *, for_update: bool = False, details: bool = True
    ) -> Subject | None:
        query = sa.select(t.subjects).where(t.subjects.c.id == subject_id)
        if for_update and self.conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = (await self.conn.execute(query)).mappings().first()
        if row is None:
            return None
        subject = self._row_to_subject(row)
        if details:
            await self._load_details([subject])
        return subject

    async def load_many(
        self, ids: Iterable[uuid.UUID], *, details: bool = True
    ) -> dict[uuid.UUID, Subject]:
        ids = list(set(ids))
        subjects: dict[uuid.UUID, Subject] = {}
        if not ids:
            return subjects
        if details and self.conn.dialect.name == "postgresql":
            return await self._load_with_details_in_one_query(ids)
        step = 10_000 if self.conn.dialect.name == "postgresql" else 900
        columns = t.subjects.c if details else SUMMARY_COLUMNS
        convert = self._row_to_subject if details else self._row_to_summary
        for start in range(0, len(ids), step):
            rows = await self.conn.execute(
                sa.select(*columns).where(
                    self._among_ids(t.subjects.c.id, ids[start : start + step])
                )
            )
            subjects.update({r["id"]: convert(r) for r in rows.mappings()})
        if details:
            await self._load_details(list(subjects.values()))
        return subjects

    def _row_to_summary(self, row: sa.RowMapping) -> Subject:
        """Only what bulk callers read: id, code, key, kind, name, status and merge."""
        code = row["code_key"]
        if row["id_cipher"] is not None:
            code = self.protector.decrypt(row["id_cipher"])
        return Subject(
            id=row["id"],
            code=code,
            kind=_KIND[row["kind"]],
            name=row["name"],
            status=_STATUS[row["status"]],
            merged_into=row["merged_into"],
            key=row["code_key"],
        )

    def _among_ids(self, column: Any, values: list[uuid.UUID]) -> Any:
        return among(self.conn.dialect.name, column, values, postgresql.UUID(as_uuid=True))

    async def _load_with_details_in_one_query(
        self, ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, Subject]:
        """Subjects with their histories, legacy and merged codes in one round trip
        (PostgreSQL: correlated json_agg subqueries)."""
        rows = await self.conn.execute(_with_details_query(), {"ids": ids})
        return {subject.id: subject for subject in map(self._row_with_details, rows.mappings())}

    def _row_with_details(self, row: sa.RowMapping) -> Subject:
        """A row of `_with_details_query` as a subject with its histories."""
        subject = self._row_to_subject(row)
        subject.former_names = [(f["name"], _instant(f["until"])) for f in row["former"]]
        subject.legacy_codes = [LegacyCode(c["type"], c["value"]) for c in row["legacy"]]
        subject.status_history = [
            (_STATUS[h["status"]], h["reason"], h["actor"], _instant(h["at"]))
            for h in row["statuses"]
        ]
        subject.merged_codes = [
            self.protector.decrypt(base64.b64decode(m["cipher"])) if m["cipher"] else m["key"]
            for m in row["merged_codes"]
        ]
        return subject

    async def _load_details(self, subjects: list[Subject]) -> None:
        if not subjects:
            return
        by_id = {s.id: s for s in subjects}
        ids = list(by_id)
        for row in await self.conn.execute(
            sa.select(t.name_history)
            .where(t.name_history.c.subject_id.in_(ids))
            .order_by(t.name_history.c.id)
        ):
            by_id[row.subject_id].former_names.append((row.name, row.until))
        for row in await self.conn.execute(
            sa.select(t.legacy_codes)
            .where(t.legacy_codes.c.subject_id.in_(ids))
            .order_by(t.legacy_codes.c.type, t.legacy_codes.c.value)
        ):
            by_id[row.subject_id].legacy_codes.append(LegacyCode(row.type, row.value))
        for row in await self.conn.execute(
            sa.select(t.status_history)
            .where(t.status_history.c.subject_id.in_(ids))
            .order_by(t.status_history.c.id)
        ):
            by_id[row.subject_id].status_history.append(
                (Status(row.status), row.reason, row.actor, row.at)
            )
        merged = await self.conn.execute(
            sa.select(
                t.subjects.c.merged_into, t.subjects.c.code_key, t.subjects.c.id_cipher
            ).where(t.subjects.c.merged_into.in_(ids))
        )
        for row in merged:
            code = self.protector.decrypt(row.id_cipher) if row.id_cipher else row.code_key
            by_id[row.merged_into].merged_codes.append(code)

    async def merged_keys(self, subject_id: uuid.UUID) -> list[str]:
        """The keys of the subjects merged into this one, directly or through others merged
        into them (a recursive query: a chain of merges of any length)."""
        s = t.subjects
        into = sa.select(s.c.id, s.c.code_key).where(s.c.merged_into == subject_id)
        chain = into.cte("merged", recursive=True)
        chain = chain.union_all(
            sa.select(s.c.id, s.c.code_key).join(chain, s.c.merged_into == chain.c.id)
        )
        return list(await self.conn.scalars(sa.select(chain.c.code_key).order_by(chain.c.code_key)))

    async def survivor_of(self, subject_id: uuid.UUID) -> uuid.UUID:
        """Follows merges to the subject that now answers for this one."""
        current = subject_id
        for _ in range(MAX_MERGE_HOPS):
            nxt = await self.conn.scalar(
                sa.select(t.subjects.c.merged_into).where(t.subjects.c.id == current)
            )
            if nxt is None:
                return current
            current = nxt
        return current

    async def insert(
        self, subject: Subject, code_key: str, id_cipher: bytes | None, legacy: Sequence[LegacyCode]
    ) -> None:
        await self.conn.execute(
            sa.insert(t.subjects).values(
                id=subject.id,
                code_key=code_key,
                kind=subject.kind.value,
                name=subject.name,
                status=subject.status.value,
                registration_authority=subject.registration_authority,
                org_category=subject.org_category,
                division_code=subject.division_code,
                org_code=subject.org_code or None,
                legal_representative=subject.legal_representative,
                registered_on=subject.registered_on,
                id_cipher=id_cipher,
                created_at=subject.created_at,
                updated_at=subject.updated_at,
            )
        )
        if legacy:
            await self.conn.execute(
                sa.insert(t.legacy_codes),
                [{"type": c.type, "value": c.value, "subject_id": subject.id} for c in legacy],
            )

    async def legacy_taken(self, legacy: Sequence[LegacyCode]) -> list[LegacyCode]:
        """The mapped legacy codes among these values, under whatever type they are mapped:
        a lookup goes by value alone (310115000000107 is both a valid registration number
        and a valid tax registration number), so a value maps to one subject."""
        if not legacy:
            return []
        lc = t.legacy_codes
        rows = await self.conn.execute(
            sa.select(lc.c.type, lc.c.value).where(lc.c.value.in_([c.value for c in legacy]))
        )
        return [LegacyCode(r.type, r.value) for r in rows]

    async def org_code_holder(self, org_code: str) -> uuid.UUID | None:
        """The subject holding this organisation code, as its own or as a legacy code."""
        lc = t.legacy_codes
        own = sa.select(t.subjects.c.id.label("id")).where(t.subjects.c.org_code == org_code)
        legacy = sa.select(lc.c.subject_id.label("id")).where(
            lc.c.type == "org_code", lc.c.value == org_code
        )
        holder: uuid.UUID | None = await self.conn.scalar(sa.union_all(own, legacy).limit(1))
        return holder

    async def update_fields(self, subject_id: uuid.UUID, now: dt.datetime, **values: Any) -> None:
        await self.conn.execute(
            sa.update(t.subjects)
            .where(t.subjects.c.id == subject_id)
            .values(updated_at=now, **values)
        )

    async def add_former_name(
        self, subject_id: uuid.UUID, name: str, until: dt.datetime, actor: str
    ) -> None:
        await self.conn.execute(
            sa.insert(t.name_history).values(
                subject_id=subject_id, name=name, until=until, actor=actor
            )
        )

    async def add_status(
        self, subject_id: uuid.UUID, status: Status, reason: str, actor: str, at: dt.datetime
    ) -> None:
        await self.conn.execute(
            sa.insert(t.status_history).values(
                subject_id=subject_id, status=status.value, reason=reason, actor=actor, at=at
            )
        )

    async def allocate(self, name: str, start: int, end: int) -> int:
        """Takes the next counter value atomically (row lock on PostgreSQL, writer lock on SQLite)."""
        value = await self.conn.scalar(
            sa.update(t.code_allocator)
            .where(t.code_allocator.c.name == name)
            .values(next_value=t.code_allocator.c.next_value + 1)
            .returning(t.code_allocator.c.next_value - 1)
        )
        if value is None:
            stmt = sa.insert(t.code_allocator).values(name=name, next_value=start + 1)
            try:
                async with self.conn.begin_nested():
                    await self.conn.execute(stmt)
                value = start
            except sa.exc.IntegrityError:
                return await self.allocate(name, start, end)
        if value > end:
            raise OverflowError(f"allocation range {name} is exhausted")
        return int(value)

    async def search(
        self,
        *,
        q: str,
        code_prefix: str | None,
        division_code: str,
        kind: Kind | None,
        status: Status | None,
        exclude_persons_by_name: bool,
        offset: int,
        limit: int,
        similarity_threshold: float,
        narrowed_by: Sequence[str] | None = None,
    ) -> list[uuid.UUID]:
        """Names that contain `q` (or codes it starts), then names similar to it: on
        PostgreSQL, given `narrowed_by` (trigrams of `q` that few names hold), only names
        that hold one of them (an empty list: no similar names)."""
        s = t.subjects

        def filters(c: Any) -> list[Any]:
            conditions: list[Any] = []
            if division_code:
                conditions.append(c.division_code == division_code)
            if kind:
                conditions.append(c.kind == kind.value)
            if status:
                conditions.append(c.status == status.value)
            return conditions

        conditions = filters(s.c)
        if not q:
            query = sa.select(s.c.id).where(*conditions).order_by(s.c.code_key)
            return [r.id for r in await self.conn.execute(query.offset(offset).limit(limit))]
        # First the names that contain the text and the code prefix, then, if the page is
        # not full, names that are merely similar: a common fragment never makes the
        # database rank tens of thousands of similar names.
        escaped = _escape_like(q)

        def exact(c: Any) -> Any:
            substring: Any = c.name.like(f"%{escaped}%", escape="\\")
            if exclude_persons_by_name:
                substring = sa.and_(substring, c.kind != Kind.NATURAL_PERSON.value)
            either = [substring]
            if code_prefix:
                either.append(c.code_key.like(f"{code_prefix}%"))
            return sa.and_(*filters(c), sa.or_(*either))

        postgres = self.conn.dialect.name == "postgresql"
        first = exact(s.c)
        indexed = first
        if len(q) == 2 and postgres:
            # Too short for a trigram: the names holding it as one of their two-character
            # pieces (migration 0004), which is the same as containing it.
            pieces = sa.bindparam(None, [q], type_=postgresql.ARRAY(sa.Text()))
            indexed = sa.and_(sa.func.name_bigrams(s.c.name).op("@>")(pieces), first)
            if code_prefix:
                indexed = sa.or_(
                    indexed, sa.and_(*conditions, s.c.code_key.like(f"{code_prefix}%"))
                )
        found = await self._common_matches(exact, offset, limit)
        if found is None:  # a rare fragment: every match, shortest name first
            found = [
                r.id
                for r in await self.conn.execute(
                    sa.select(s.c.id)
                    .where(indexed)
                    .order_by(sa.func.length(s.c.name), s.c.code_key)
                    .offset(offset)
                    .limit(limit)
                )
            ]
        if len(found) == limit or (postgres and narrowed_by is not None and not narrowed_by):
            return found
        skipped = offset
        if offset and not found:
            skipped = int(
                await self.conn.scalar(sa.select(sa.func.count()).select_from(s).where(indexed))
                or 0
            )
        similar, rank = self._similarity(q, narrowed_by, similarity_threshold)
        if exclude_persons_by_name:
            similar = sa.and_(similar, s.c.kind != Kind.NATURAL_PERSON.value)
        # Every similar name ranked (the narrowing keeps their number small where it
        # would not be: service_layer/name_sample.py).
        rest = (
            sa.select(s.c.id)
            .where(*conditions, similar, sa.not_(first))
            .order_by(rank(s.c.name).desc(), s.c.code_key)
        )
        more = await self.conn.execute(
            rest.offset(max(offset - skipped, 0)).limit(limit - len(found))
        )
        return found + [r.id for r in more]

    def _similarity(
        self, q: str, narrowed_by: Sequence[str] | None, threshold: float
    ) -> tuple[Any, Callable[[Any], Any]]:
        """The condition a name similar to `q` meets, and how to rank a name by it."""
        name = t.subjects.c.name
        if self.conn.dialect.name != "postgresql":
            return sa.func.similarity(name, q) >= threshold, lambda n: sa.func.similarity(n, q)

        def rank(n: Any) -> Any:
            return sa.func.word_similarity(q, n)

        if not narrowed_by:
            return sa.literal(q).op("<%")(name), rank  # served by the trigram index
        # Candidates through the distinctive trigrams' short index lists; word similarity
        # as a function, so the planner does not also ask the index for it.
        holding = sa.or_(*[name.ilike(_holding(g), escape="\\") for g in narrowed_by])
        return sa.and_(holding, rank(name) >= WORD_SIMILARITY), rank

    async def sample_names(self) -> list[str]:
        """The names of the first SEARCH_SAMPLE subjects in id order (a fair sample)."""
        s = t.subjects
        query = sa.select(s.c.name).order_by(s.c.id).limit(SEARCH_SAMPLE)
        return list(await self.conn.scalars(query))

    async def _common_matches(
        self, matching: Callable[[Any], Any], offset: int, limit: int
    ) -> list[uuid.UUID] | None:
        """The page of matches in id order when the fragment is common (at least
        COMMON_MATCHES among the first SEARCH_SAMPLE subjects by id), else None.

        Ids are random, so the first rows in id order are a fair sample of all names, and
        the matches among the first N ids are the first matches in id order: the walk
        stops as soon as the page is full, where ranking every match of 有限公司 (half of
        all names) would sort hundreds of thousands of rows. A deeper page widens the
        walk by the density the sample showed.
        """
        s = t.subjects
        wanted = min(max(offset + limit, COMMON_MATCHES), _LARGEST_WINDOW)
        window = SEARCH_SAMPLE
        while True:
            walk = (
                sa.select(s.c.id, s.c.name, s.c.kind, s.c.status, s.c.division_code, s.c.code_key)
                .order_by(s.c.id)
                .limit(window)
                .subquery()
            )
            query = sa.select(walk.c.id).where(matching(walk.c)).order_by(walk.c.id)
            ids = [r.id for r in await self.conn.execute(query.limit(wanted))]
            if window == SEARCH_SAMPLE and len(ids) < COMMON_MATCHES:
                return None
            if len(ids) >= wanted:
                return ids[offset : offset + limit]
            if window > SEARCH_SAMPLE:  # a walk widened by the density came up short:
                seen = sa.select(sa.func.count()).select_from(
                    sa.select(s.c.id).order_by(s.c.id).limit(window).subquery()
                )
                if int(await self.conn.scalar(seen) or 0) < window:  # all subjects seen
                    return ids[offset : offset + limit]
            if window == _LARGEST_WINDOW:
                return ids[offset : offset + limit]
            window = max(window * 2, math.ceil(window * wanted / len(ids) * 1.25))
            window = min(window, _LARGEST_WINDOW)  # a deep page: at most the whole table


_LARGEST_WINDOW = 2**31 - 1  # PostgreSQL's LIMIT parameter is an integer


def _holding(trigram: str) -> str:
    """An ILIKE pattern for the names that hold a trigram as pg_trgm pads them (leading
    spaces: at the start; a trailing one: at the end). A name of several words holds
    more than the pattern finds: these only gather candidates."""
    core = _escape_like(trigram.strip())
    if trigram.startswith(" "):
        return f"{core}%"
    if trigram.endswith(" "):
        return f"%{core}"
    return f"%{core}%"


def _escape_like(text: str) -> str:
    """The text as a LIKE pattern matching it literally (escape character: backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _instant(text: str) -> dt.datetime:
    """A timestamptz as PostgreSQL's JSON renders it, as an aware datetime."""
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


_FEW_KEYS = 4  # a single code's lookup asks for one or two keys


def _maybe_legacy(keys: Iterable[str], found: Container[str]) -> list[str]:
    """The keys not found by code key that are shaped like a legacy code (an organisation
    code of 9 characters, a registration number of 15)."""
    return [k for k in keys if k not in found and len(k) in (9, 15)]


def _by_code(columns: Sequence[Any]) -> sa.Select[Any]:
    """`columns` of subjects by code key, each row with the key (`filed_key`)."""
    return sa.select(t.subjects.c.code_key.label("filed_key"), *columns)


def _by_legacy(columns: Sequence[Any]) -> sa.Select[Any]:
    """`columns` of subjects by legacy code; without columns only the codes (no join)."""
    lc = t.legacy_codes
    query = sa.select(lc.c.value.label("filed_key"), *columns)
    return query.join(lc, lc.c.subject_id == t.subjects.c.id) if columns else query


@functools.cache
def _statements_for_few(columns: tuple[Any, ...]) -> tuple[sa.Select[Any], sa.Select[Any]]:
    """Built once per column set: subjects by a few code keys, then by legacy codes."""
    keys: sa.BindParameter[Any] = sa.bindparam("keys", expanding=True)
    return (
        _by_code(columns).where(t.subjects.c.code_key.in_(keys)),
        _by_legacy(columns).where(t.legacy_codes.c.value.in_(keys)),
    )


@functools.cache
def _with_details_query(by_key: bool = False) -> sa.Select[Any]:
    """Built once: subjects by id (`ids`) or by code key (`keys`, each row with its key as
    `filed_key`) with their histories as JSON arrays (PostgreSQL)."""
    s, n, lc, st = t.subjects, t.name_history, t.legacy_codes, t.status_history
    merged = t.subjects.alias("merged")

    def agg(expression: Any, order: list[Any], source: Any, where: Any) -> Any:
        return (
            sa.select(
                sa.func.coalesce(
                    sa.func.json_agg(postgresql.aggregate_order_by(expression, *order)),
                    sa.literal_column("'[]'::json"),
                )
            )
            .select_from(source)
            .where(where)
            .scalar_subquery()
        )

    former = agg(
        sa.func.json_build_object("name", n.c.name, "until", n.c.until),
        [n.c.id],
        n,
        n.c.subject_id == s.c.id,
    )
    legacy = agg(
        sa.func.json_build_object("type", lc.c.type, "value", lc.c.value),
        [lc.c.type, lc.c.value],
        lc,
        lc.c.subject_id == s.c.id,
    )
    statuses = agg(
        sa.func.json_build_object(
            "status", st.c.status, "reason", st.c.reason, "actor", st.c.actor, "at", st.c.at
        ),
        [st.c.id],
        st,
        st.c.subject_id == s.c.id,
    )
    merged_codes = agg(
        sa.func.json_build_object(
            "key", merged.c.code_key, "cipher", sa.func.encode(merged.c.id_cipher, "base64")
        ),
        [merged.c.code_key],
        merged,
        merged.c.merged_into == s.c.id,
    )
    if by_key:
        keys = sa.bindparam("keys", type_=postgresql.ARRAY(sa.String()))
        chosen, extra = s.c.code_key == sa.any_(keys), [s.c.code_key.label("filed_key")]
    else:
        ids = sa.bindparam("ids", type_=postgresql.ARRAY(postgresql.UUID(as_uuid=True)))
        chosen, extra = s.c.id == sa.any_(ids), []
    return sa.select(
        s,
        *extra,
        former.label("former"),
        legacy.label("legacy"),
        statuses.label("statuses"),
        merged_codes.label("merged_codes"),
    ).where(chosen)
