"""The registry's use cases: each one transaction, committed once."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import sqlalchemy as sa

from credit.events.v1 import subject_pb2
from credit_common.db import Database
from credit_common.errors import (
    Conflict,
    FieldViolation,
    InvalidArgument,
    InvalidTransition,
    NotFound,
)
from credit_common.outbox import Event, Outbox
from credit_common.timeutil import china_date, utcnow
from credit_registry.adapters.crypto import IdentityProtector
from credit_registry.adapters.repository import SubjectRepository
from credit_registry.domain import codes
from credit_registry.domain.subjects import (
    Kind,
    LegacyCode,
    Status,
    Subject,
    check_legacy_code,
    check_merge,
    check_status_change,
    encode_counter,
)
from credit_registry.service_layer import commands
from credit_registry.service_layer.name_sample import NameSample

MAX_PAGE = 500
_VALIDATE_SLICE = 1000  # codes validated between two turns of the event loop
_CODE_PREFIX = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2,18}$")


# Registrations that allocate an organisation code try so many times: each allocation is
# new, and only a conversion giving the same code at the same moment takes one meanwhile.
_ALLOCATION_TRIES = 3


class _AllocatedCodeTaken(Exception):
    """The organisation code allocated to a registration was taken, before it committed,
    by a conversion that gave that code (subjects.org_code is unique: registry 0007)."""


@dataclass(frozen=True)
class Resolution:
    requested: str
    subject: Subject | None


class CheckedCode(NamedTuple):  # a tuple, as codes.Validation
    validation: codes.Validation
    registered: bool


class Registry:
    def __init__(
        self,
        db: Database,
        protector: IdentityProtector,
        outbox: Outbox,
        *,
        exceptions: frozenset[str],
        allocation_prefix: str,
        allocation_start: int,
        allocation_end: int,
        max_batch: int = 10_000,
    ) -> None:
        self.db = db
        self.protector = protector
        self.outbox = outbox
        self.exceptions = exceptions
        # A listed exception by its first 17 characters: the code legally issued for them.
        self.listed_by_prefix = {
            codes.normalise(c)[:17]: codes.normalise(c)
            for c in exceptions
            if len(codes.normalise(c)) == 18
        }
        # Organisation codes embedded in listed exceptions: they name the organisations
        # those codes were issued to, so they are never allocated to a new subject.
        self.listed_org_codes = frozenset(c[8:17] for c in self.listed_by_prefix.values())
        self.allocation_prefix = allocation_prefix
        self.allocation_start = allocation_start
        self.allocation_end = allocation_end
        self.max_batch = max_batch
        self.names = NameSample(self._sample_names)

    # -- validation -----------------------------------------------------------------

    async def validate(
        self, raw_codes: Sequence[str], *, check_registered: bool
    ) -> list[CheckedCode]:
        """Validates codes of any kind and, if asked, whether each is registered.

        The registered check does not wait for the validation: the codes are looked up
        (under every key they may be filed under) while their check characters are
        verified, so the database works on one core while this process works on the
        other; a code counts as registered only if it is valid and its key was found."""
        self._check_batch(raw_codes, "codes")
        today = china_date(utcnow())
        lookup = None
        if check_registered:
            lookup = asyncio.create_task(self._filed([codes.normalise(c) for c in raw_codes]))
        try:
            results: list[codes.Validation] = []
            for start in range(0, len(raw_codes), _VALIDATE_SLICE):
                part = raw_codes[start : start + _VALIDATE_SLICE]
                results += [codes.validate_any(c, self.exceptions, today) for c in part]
                await asyncio.sleep(0)  # the lookup goes on between slices
            found = await lookup if lookup is not None else set()
        finally:
            if lookup is not None and not lookup.done():
                lookup.cancel()
        return [self._checked(v, found) for v in results]

    def _checked(self, validation: codes.Validation, found: set[str]) -> CheckedCode:
        """An 18-digit code valid both as an identity number and as a unified code is taken
        for a person (validate_any), unless no person but an organisation is filed under
        it: then it is that organisation's unified code."""
        if not validation.valid:
            return CheckedCode(validation, False)
        if self._key_for(validation) in found:
            return CheckedCode(validation, True)
        if validation.kind == "citizen_id" and validation.code in found:
            as_unified = codes.validate_uscc(validation.code, self.exceptions)
            if as_unified.valid:
                return CheckedCode(as_unified, True)
        return CheckedCode(validation, False)

    async def _filed(self, normalised: list[str]) -> set[str]:
        """The keys among these codes' possible keys that a subject is filed under."""
        keys = list({k for code in normalised for k in self._lookup_keys(code)})
        async with self.db.read() as conn:
            return await SubjectRepository(conn, self.protector).filed_keys(keys)

    def _check_batch(self, items: Sequence[str], field: str) -> None:
        if len(items) > self.max_batch:
            raise InvalidArgument(
                f"at most {self.max_batch} codes per call, got {len(items)}",
                "batch_too_large",
                [FieldViolation(field, f"at most {self.max_batch} items")],
            )

    def _key_for(self, validation: codes.Validation) -> str:
        if validation.kind == "citizen_id":
            return self.protector.lookup_key(validation.code)
        return validation.code

    # -- registration ---------------------------------------------------------------

    async def register(self, cmd: commands.Register) -> Subject:
        """Registers a subject, allocating or converting its code; emits subject.registered."""
        for _ in range(_ALLOCATION_TRIES - 1):
            try:
                return await self._register(cmd)
            except _AllocatedCodeTaken:
                continue  # a conversion took the allocated organisation code meanwhile
        return await self._register(cmd, last_try=True)

    async def _register(self, cmd: commands.Register, *, last_try: bool = False) -> Subject:
        self._check_registration(cmd)
        legacy = [check_legacy_code(c) for c in cmd.legacy_codes]
        self._check_legacy_values(legacy)
        now = utcnow()
        subject = Subject(
            id=uuid.uuid4(),
            code="",
            kind=cmd.kind,
            name=cmd.name.strip(),
            status=Status.ACTIVE,
            registration_authority=cmd.registration_authority,
            org_category=cmd.org_category,
            division_code=cmd.division_code,
            legal_representative=cmd.legal_representative.strip(),
            registered_on=cmd.registered_on,
            created_at=now,
            updated_at=now,
        )
        id_cipher: bytes | None = None
        if cmd.kind == Kind.NATURAL_PERSON:
            number = codes.normalise(cmd.id_number)
            check = codes.validate_citizen_id(number, today=china_date(now))
            if not check.valid:
                raise InvalidArgument(
                    f"invalid identity number: {check.reason}",
                    "invalid_code",
                    [FieldViolation("id_number", check.reason or "invalid")],
                )
            subject.code = number
            subject.division_code = subject.division_code or number[:6]
            code_key = self.protector.lookup_key(number)
            id_cipher = self.protector.encrypt(number)
        else:
            if cmd.org_code:
                org_code = codes.normalise(cmd.org_code)
                check = codes.validate_org_code(org_code)
                if not check.valid:
                    raise InvalidArgument(
                        f"invalid organisation code: {check.reason}",
                        "invalid_code",
                        [FieldViolation("org_code", check.reason or "invalid")],
                    )
                self._check_legacy_org_codes(org_code, legacy)
            else:
                self._check_legacy_org_codes("", legacy)
                org_code = await self._allocate_org_code()
            subject.org_code = org_code
            try:
                subject.code = self._unified_code(
                    cmd.registration_authority, cmd.org_category, cmd.division_code, org_code
                )
            except ValueError as error:
                raise InvalidArgument(str(error), "invalid_code") from error
            code_key = subject.code
            if cmd.org_code and not any(c.type == "org_code" for c in legacy):
                legacy.append(LegacyCode("org_code", org_code))
        # An allocated organisation code a conversion has taken since it was allocated: a
        # new allocation, not a refusal (the caller gave no code).
        allocated = subject.kind != Kind.NATURAL_PERSON and not cmd.org_code and not last_try
        try:
            async with self.db.transaction() as conn:
                repo = SubjectRepository(conn, self.protector)
                if allocated and await repo.org_code_holder(subject.org_code) is not None:
                    raise _AllocatedCodeTaken()
                await self._refuse_taken(repo, subject, code_key, legacy)
                await repo.insert(subject, code_key, id_cipher, legacy)
                await repo.add_status(subject.id, Status.ACTIVE, "registered", cmd.actor, now)
                await self.outbox.add(
                    conn,
                    Event(
                        "subject.registered",
                        code_key,
                        subject_pb2.SubjectRegistered(
                            subject_id=str(subject.id),
                            code=self._event_code(subject, code_key),
                            kind=subject.kind.value,
                            division_code=subject.division_code,
                        ),
                    ),
                )
                loaded = await repo.load(subject.id)
        except sa.exc.IntegrityError:  # a concurrent registration of the same codes won
            async with self.db.read() as conn:
                repo = SubjectRepository(conn, self.protector)
                if allocated and await repo.org_code_holder(subject.org_code) is not None:
                    raise _AllocatedCodeTaken() from None
                await self._refuse_taken(repo, subject, code_key, legacy)
            raise
        assert loaded is not None
        return loaded

    @staticmethod
    async def _refuse_taken(
        repo: SubjectRepository, subject: Subject, code_key: str, legacy: list[LegacyCode]
    ) -> None:
        """Refuses a code, organisation code or legacy code another subject holds."""
        if await repo.id_for_key(code_key) is not None:
            raise Conflict(
                "a subject with this code is already registered",
                "already_registered",
                metadata={"code": "" if subject.kind == Kind.NATURAL_PERSON else subject.code},
            )
        if subject.org_code and await repo.org_code_holder(subject.org_code) is not None:
            raise Conflict(
                f"organisation code {subject.org_code} is already held by another subject",
                "org_code_taken",
                metadata={"org_code": subject.org_code},
            )
        taken = await repo.legacy_taken(legacy)
        if taken:
            raise Conflict(
                "legacy code already mapped: " + ", ".join(f"{c.type} {c.value}" for c in taken),
                "legacy_code_taken",
            )

    def _check_registration(self, cmd: commands.Register) -> None:
        problems: list[FieldViolation] = []
        if not cmd.name.strip():
            problems.append(FieldViolation("name", "required"))
        elif len(cmd.name) > 200:
            problems.append(FieldViolation("name", "at most 200 characters"))
        if cmd.kind == Kind.NATURAL_PERSON:
            if not cmd.id_number:
                problems.append(FieldViolation("id_number", "required for a natural person"))
            if cmd.org_code:
                problems.append(FieldViolation("org_code", "not for a natural person"))
            if cmd.legacy_codes:
                # A person is found by the identity number only, never by a number that
                # views show in clear.
                problems.append(FieldViolation("legacy_codes", "not for a natural person"))
        else:
            if cmd.id_number:
                problems.append(FieldViolation("id_number", "only for a natural person"))
            allowed = codes.AUTHORITY_CATEGORIES.get(cmd.registration_authority)
            if allowed is None:
                problems.append(
                    FieldViolation(
                        "registration_authority",
                        f"unknown authority {cmd.registration_authority!r}",
                    )
                )
            elif cmd.org_category not in allowed:
                problems.append(
                    FieldViolation(
                        "org_category",
                        f"category {cmd.org_category!r} not allowed for authority "
                        f"{cmd.registration_authority} (allowed: {''.join(sorted(allowed))})",
                    )
                )
            if cmd.kind == Kind.INDIVIDUAL_BUSINESS and (
                cmd.registration_authority,
                cmd.org_category,
            ) != ("9", "2"):
                problems.append(
                    FieldViolation(
                        "org_category", "an individual business is authority 9, category 2"
                    )
                )
            if not re.fullmatch(r"\d{6}", cmd.division_code or ""):
                problems.append(FieldViolation("division_code", "six digits (GB/T 2260)"))
        if problems:
            raise InvalidArgument("invalid registration", "invalid_argument", problems)

    def _unified_code(self, authority: str, category: str, division: str, org_code: str) -> str:
        """The unified code for these parts: the computed one, or the listed exception
        that shares its first 17 characters (the code legally issued for them)."""
        computed = codes.make_uscc(authority, category, division, org_code)
        return self.listed_by_prefix.get(computed[:17], computed)

    @staticmethod
    def _check_legacy_values(legacy: list[LegacyCode]) -> None:
        """A value is mapped once, whatever its type: a lookup goes by value alone."""
        first: dict[str, int] = {}
        problems = []
        for i, c in enumerate(legacy):
            if c.value in first:
                problems.append(
                    FieldViolation(
                        f"legacy_codes.{i}.value",
                        f"{c.value} is already given as legacy_codes.{first[c.value]}",
                    )
                )
            first.setdefault(c.value, i)
        if problems:
            raise InvalidArgument(
                "a legacy code value is given more than once", "invalid_argument", problems
            )

    @staticmethod
    def _check_legacy_org_codes(embedded: str, legacy: list[LegacyCode]) -> None:
        """A legacy organisation code, or the one a tax registration number embeds
        (positions 7-15), must be the one the unified code embeds (positions 9-17): a
        subject has one organisation code, and the embedded one is always mapped.
        `embedded` is empty when the code is yet to be allocated."""
        unified = f" ({embedded})" if embedded else " (a newly allocated one)"
        problems = []
        for i, c in enumerate(legacy):
            if c.type == "org_code":
                within = c.value
                what = f"organisation code {c.value}"
            elif c.type == "tax_registration_number" and len(c.value) == 15:
                within = c.value[6:]
                what = f"tax registration number {c.value} embeds organisation code {within}, which"
            else:
                continue
            if within != embedded:
                problems.append(
                    FieldViolation(
                        f"legacy_codes.{i}.value",
                        f"{what} differs from the one the unified code embeds{unified}; to "
                        "convert a subject, give its organisation code as org_code",
                    )
                )
        if problems:
            raise InvalidArgument(
                "a legacy code conflicts with the embedded organisation code",
                "invalid_argument",
                problems,
            )

    async def _allocate_org_code(self) -> str:
        """Allocates a new organisation code, each in its own short transaction, passing
        over the organisation codes of listed exceptions and those a subject holds (a
        converted subject keeps its own, which may lie in the range)."""
        width = 8 - len(self.allocation_prefix)
        while True:
            async with self.db.transaction() as conn:
                repo = SubjectRepository(conn, self.protector)
                try:
                    value = await repo.allocate(
                        f"org_code:{self.allocation_prefix}",
                        self.allocation_start,
                        self.allocation_end,
                    )
                except OverflowError as error:
                    raise Conflict(str(error), "allocation_exhausted") from error
                org_code = codes.make_org_code(
                    self.allocation_prefix + encode_counter(value, width)
                )
                if org_code in self.listed_org_codes:
                    continue
                if await repo.org_code_holder(org_code) is None:
                    return org_code

    @staticmethod
    def _event_code(subject: Subject, code_key: str) -> str:
        # Identity numbers never travel in events; the keyed hash stands for the person.
        return code_key if subject.kind == Kind.NATURAL_PERSON else subject.code

    # -- lookup ---------------------------------------------------------------------

    async def get(self, raw_code: str, *, details: bool = True) -> Resolution:
        """Finds a subject by code, legacy code or identity number, following merges."""
        resolved = await self.resolve([raw_code], details=details)
        if resolved[0].subject is None:
            raise NotFound("no subject answers to this code", "not_found")
        return resolved[0]

    async def merged_keys(self, subject_id: uuid.UUID) -> list[str]:
        """The keys of every subject merged into this one, through chains of merges too."""
        async with self.db.read() as conn:
            return await SubjectRepository(conn, self.protector).merged_keys(subject_id)

    async def resolve(self, raw_codes: Sequence[str], *, details: bool = True) -> list[Resolution]:
        """Resolves many codes in a few queries, following merges; unknown codes come back
        without a subject."""
        self._check_batch(raw_codes, "codes")
        normalised = [codes.normalise(c) for c in raw_codes]
        keys = {n: self._lookup_keys(n) for n in normalised}
        async with self.db.read() as conn:
            repo = SubjectRepository(conn, self.protector)
            wanted = list({k for ks in keys.values() for k in ks})
            if details:
                found, subjects = await repo.subjects_for_keys(wanted)
            else:  # bulk callers: one query gives ids and summaries
                found, subjects = await repo.summaries_for_keys(wanted)
            survivors = {i: i for i in subjects}
            merged = [s.id for s in subjects.values() if s.merged_into is not None]
            for merged_id in merged:
                survivors[merged_id] = await repo.survivor_of(merged_id)
            missing = set(survivors.values()) - set(subjects)
            subjects.update(await repo.load_many(missing, details=details))
        results = []
        for raw, n in zip(raw_codes, normalised, strict=True):
            subject_id = next((found[k] for k in keys[n] if k in found), None)
            subject = subjects.get(survivors[subject_id]) if subject_id else None
            results.append(Resolution(raw, subject))
        return results

    def _lookup_keys(self, code: str) -> list[str]:
        """The keys a code may be filed under: an 18-digit code that passes the identity
        check may still be an all-digit unified code, so both are tried, person first."""
        if "\x00" in code:  # nothing is filed under it (and PostgreSQL cannot compare it)
            return []
        if len(code) == 18 and codes.is_citizen_id(code):
            return [self.protector.lookup_key(code), code]
        return [code]

    async def _sample_names(self) -> list[str]:
        async with self.db.read() as conn:
            return await SubjectRepository(conn, self.protector).sample_names()

    async def search(self, cmd: commands.Search) -> tuple[list[Subject], int | None]:
        """Searches by name (substring or similar) or code prefix; returns the next offset."""
        size = min(max(cmd.page_size or 50, 1), MAX_PAGE)
        q = cmd.q.strip()
        if "\x00" in q:
            raise InvalidArgument(
                "q must not contain NUL characters",
                "invalid_argument",
                [FieldViolation("q", "NUL character")],
            )
        prefix = q.upper() if _CODE_PREFIX.fullmatch(q.upper()) else None
        narrowing = await self.names.narrowing(q) if q else None
        async with self.db.read() as conn:
            repo = SubjectRepository(conn, self.protector)
            ids = await repo.search(
                q=q,
                code_prefix=prefix,
                division_code=cmd.division_code,
                kind=cmd.kind,
                status=cmd.status,
                exclude_persons_by_name=cmd.exclude_natural_persons_by_name,
                offset=cmd.offset,
                limit=size + 1,
                similarity_threshold=0.3,
                narrowed_by=narrowing,
            )
            subjects = await repo.load_many(ids[:size])
        ordered = [subjects[i] for i in ids[:size]]
        return ordered, (cmd.offset + size if len(ids) > size else None)

    # -- changes --------------------------------------------------------------------

    async def update(self, cmd: commands.Update) -> Subject:
        """Changes name, legal representative or status, keeping the history; a field
        already at its value is left as it is (a status repeated is no transition)."""
        if cmd.name is None and cmd.legal_representative is None and cmd.status is None:
            raise InvalidArgument("nothing to change", "invalid_argument")
        if cmd.name is not None and not cmd.name.strip():
            raise InvalidArgument(
                "name cannot be empty", "invalid_argument", [FieldViolation("name", "required")]
            )
        now = utcnow()
        async with self.db.transaction() as conn:
            repo = SubjectRepository(conn, self.protector)
            # Not followed to the survivor, as a lookup is: "deregister the duplicate",
            # sent by its code after the merge, must not deregister the survivor.
            subject = await self._locked(repo, cmd.code, follow_merges=False)
            if subject.status == Status.MERGED:
                raise InvalidTransition(
                    "this code's subject was merged into another: change the survivor by its "
                    "own code"
                )
            changed: list[str] = []
            values: dict[str, str] = {}
            events: list[Event] = []
            key = await self._key_of(repo, subject)
            if cmd.name is not None and cmd.name.strip() != subject.name:
                await repo.add_former_name(subject.id, subject.name, now, cmd.actor)
                values["name"] = cmd.name.strip()
                changed.append("name")
            if (
                cmd.legal_representative is not None
                and cmd.legal_representative.strip() != subject.legal_representative
            ):
                values["legal_representative"] = cmd.legal_representative.strip()
                changed.append("legal_representative")
            if cmd.status is not None and cmd.status != subject.status:
                check_status_change(subject.status, cmd.status, cmd.reason)
                values["status"] = cmd.status.value
                await repo.add_status(subject.id, cmd.status, cmd.reason, cmd.actor, now)
                events.append(
                    Event(
                        "subject.status_changed",
                        key,
                        subject_pb2.SubjectStatusChanged(
                            subject_id=str(subject.id),
                            code=key,
                            old_status=subject.status.value,
                            new_status=cmd.status.value,
                            reason=cmd.reason,
                        ),
                    )
                )
            if values:
                await repo.update_fields(subject.id, now, **values)
            if changed:
                events.append(
                    Event(
                        "subject.updated",
                        key,
                        subject_pb2.SubjectUpdated(
                            subject_id=str(subject.id), code=key, changed_fields=changed
                        ),
                    )
                )
            await self.outbox.add(conn, *events)
            loaded = await repo.load(subject.id)
        assert loaded is not None
        return loaded

    async def merge(self, cmd: commands.Merge) -> Subject:
        """Merges a duplicate into a survivor; the duplicate's codes answer with the survivor."""
        now = utcnow()
        async with self.db.transaction() as conn:
            repo = SubjectRepository(conn, self.protector)
            duplicate = await self._locked(repo, cmd.code, follow_merges=False)
            survivor = await self._locked(repo, cmd.into)
            check_merge(duplicate, survivor, cmd.reason)
            await repo.update_fields(
                duplicate.id, now, status=Status.MERGED.value, merged_into=survivor.id
            )
            await repo.add_status(duplicate.id, Status.MERGED, cmd.reason, cmd.actor, now)
            dup_key = await self._key_of(repo, duplicate)
            surv_key = await self._key_of(repo, survivor)
            await self.outbox.add(
                conn,
                Event(
                    "subject.merged",
                    dup_key,
                    subject_pb2.SubjectMerged(
                        subject_id=str(duplicate.id),
                        merged_code=dup_key,
                        survivor_code=surv_key,
                        survivor_id=str(survivor.id),
                        reason=cmd.reason,
                    ),
                ),
            )
            loaded = await repo.load(survivor.id)
        assert loaded is not None
        return loaded

    async def _locked(
        self, repo: SubjectRepository, raw_code: str, *, follow_merges: bool = True
    ) -> Subject:
        code = codes.normalise(raw_code)
        keys = self._lookup_keys(code)
        found = await repo.ids_for_keys(keys)
        subject_id = next((found[k] for k in keys if k in found), None)
        if subject_id is None:
            raise NotFound(
                f"no subject answers to {'this identity number' if len(keys) > 1 else code}"
            )
        if follow_merges:
            subject_id = await repo.survivor_of(subject_id)
        subject = await repo.load(subject_id, for_update=True)
        assert subject is not None
        return subject

    async def _key_of(self, repo: SubjectRepository, subject: Subject) -> str:
        if subject.kind == Kind.NATURAL_PERSON:
            return self.protector.lookup_key(subject.code)
        return subject.code
