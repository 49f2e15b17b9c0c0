"""The registry as other services see it: codes resolved to subjects, briefly cached."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from itertools import islice
from typing import NamedTuple

from credit.registry.v1 import registry_pb2 as pb
from credit.registry.v1 import registry_pb2_grpc as pb_grpc
from credit_common.errors import FieldViolation
from credit_common.grpc_client import Backend

CHUNK = 1000  # codes per ResolveCodes call
PARALLEL = 4  # calls in flight at once
PERSON = pb.SUBJECT_KIND_NATURAL_PERSON
_clock = time.monotonic  # tests move it


def unknown_subject(invalid: str = "") -> FieldViolation:
    """Why a subject code names no subject: it is no valid code (the registry's reason,
    from `SubjectDirectory.invalid`), or no registered subject answers to it."""
    if invalid:
        return FieldViolation("subject_code", f"not a valid code: {invalid}")
    return FieldViolation("subject_code", "no registered subject answers to this code")


class SubjectRef(NamedTuple):  # a tuple: a 10,000-code check makes 10,000 of them
    subject_id: uuid.UUID
    key: str
    natural_person: bool


class SubjectDirectory(Backend):
    """Resolves codes (unified, legacy, identity numbers; merged codes to their survivor) in
    batches of up to 1,000, caching answers for a few seconds so a bulk load asks once.

    The cache holds answers in the order they came, which (one ttl for all) is the order
    they expire in: each call first drops the expired ones from the front, and past
    `max_entries` the oldest. So it lets go of what it holds a call at a time; emptied all
    at once when full, as it used to be, one call in twenty of a run of 10,000-code checks
    spent 50 ms freeing 200,000 answers."""

    def __init__(
        self, address: str, deadline: float, *, ttl_seconds: float = 5.0, max_entries: int = 200_000
    ) -> None:
        super().__init__("registry", address, deadline)
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._cache: dict[str, tuple[float, SubjectRef | None]] = {}

    async def resolve(self, codes: Sequence[str]) -> dict[str, SubjectRef | None]:
        now = _clock()
        self._drop_expired(now)
        answers: dict[str, SubjectRef | None] = {}
        missing: list[str] = []
        for code in set(codes):
            cached = self._cache.get(code)
            if cached and cached[0] > now:
                answers[code] = cached[1]
            else:
                missing.append(code)
        stub = pb_grpc.RegistryServiceStub(self.channel)
        # Chunks are asked concurrently: the registry's database, the registry and this
        # service then work on different chunks at once (a 10,000-code check took about a
        # tenth less time than asking them one after another).
        at_once = asyncio.Semaphore(PARALLEL)

        async def ask(chunk: list[str]) -> pb.ResolveCodesResponse:
            async with at_once:
                request = pb.ResolveCodesRequest(codes=chunk, summary_only=True)
                return await self.call(stub.ResolveCodes, request, idempotent=True)

        replies = await asyncio.gather(
            *(ask(missing[i : i + CHUNK]) for i in range(0, len(missing), CHUNK))
        )
        for reply in replies:
            for result in reply.results:
                ref = None
                if result.found:
                    subject = result.subject
                    ref = SubjectRef(
                        uuid.UUID(subject.subject_id),
                        subject.subject_key,
                        subject.kind == PERSON,
                    )
                answers[result.requested_code] = ref
        # The time the answers came, not the time they were asked: a call that asked before
        # another and was answered after it puts its answers behind the other's, so the
        # cache stays in the order its answers expire in.
        expires = _clock() + self.ttl
        cache = self._cache
        for code in missing:
            # An answer given again (two calls in flight asked for it) goes to the back.
            cache.pop(code, None)
            cache[code] = (expires, answers[code])
        if len(cache) > self.max_entries:
            for code in list(islice(cache, len(cache) - self.max_entries)):
                del cache[code]
        return answers

    async def invalid(self, codes: Sequence[str]) -> dict[str, str]:
        """Of codes no subject answers to, those that are no valid code at all, each with
        the registry's reason (a wrong check character, a wrong length…): asked only on
        that path, so a caller can tell a mistyped code from an unregistered one."""
        wanted = list(dict.fromkeys(codes))
        if not wanted:
            return {}
        stub = pb_grpc.RegistryServiceStub(self.channel)
        found: dict[str, str] = {}
        for i in range(0, len(wanted), CHUNK):
            request = pb.ValidateCodesRequest(codes=wanted[i : i + CHUNK])
            reply = await self.call(stub.ValidateCodes, request, idempotent=True)
            # In the order asked: an answer names the code cleaned up (trimmed, upper case).
            for code, result in zip(wanted[i : i + CHUNK], reply.results, strict=True):
                if not result.valid:
                    found[code] = result.reason or "not a valid code"
        return found

    async def why_unknown(self, code: str) -> tuple[str, FieldViolation]:
        """The reason (`invalid_code` or `unknown_subject`) and the field's problem for a
        code that resolved to no subject."""
        invalid = (await self.invalid([code])).get(code, "")
        return ("invalid_code" if invalid else "unknown_subject"), unknown_subject(invalid)

    def _drop_expired(self, now: float) -> None:
        cache = self._cache
        expired: list[str] = []
        for code, (expires, _ref) in cache.items():
            if expires > now:
                break
            expired.append(code)
        for code in expired:
            del cache[code]

    def forget(self, code: str) -> None:
        self._cache.pop(code, None)
