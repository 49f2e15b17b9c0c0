"""Whose target it is: the subject a filer acts for must be the target's own."""

from __future__ import annotations

from credit_common.directory import SubjectDirectory
from credit_common.errors import InvalidArgument, PermissionDenied
from credit_common.grpc_client import BackendUnavailable
from credit_objections.adapters.targets import Unavailable
from credit_objections.domain.cases import Subject
from credit_objections.domain.targets import TargetFacts


async def subject_of(directory: SubjectDirectory, facts: TargetFacts, subject_code: str) -> Subject:
    """The target's subject; when the filer names one, the target must belong to it."""
    code = subject_code.strip() or facts.subject_key
    try:
        found = (await directory.resolve([code]))[code]
        unknown = (
            await directory.why_unknown(code) if found is None and subject_code.strip() else None
        )
    except BackendUnavailable as error:
        raise Unavailable(
            str(error), "service_unavailable", metadata={"service": "registry"}
        ) from error
    if unknown is not None:
        reason, problem = unknown
        raise InvalidArgument(problem.message, reason, [problem])
    if found is None:  # the owner files it under a key the registry no longer knows
        return Subject(facts.subject_id, facts.subject_key, False)
    if found.subject_id != facts.subject_id:
        raise PermissionDenied(f"the {facts.noun} belongs to another subject", "subject_mismatch")
    return Subject(found.subject_id, found.key, found.natural_person)
