"""Domain errors shared by all services, mapped in one place to gRPC and HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc


@dataclass(frozen=True)
class FieldViolation:
    field: str
    message: str


@dataclass
class DomainError(Exception):
    """An expected refusal: carries a stable machine `reason` and a human message."""

    message: str
    reason: str = "failed_precondition"
    violations: list[FieldViolation] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)

    grpc_code = grpc.StatusCode.FAILED_PRECONDITION

    def __str__(self) -> str:
        return self.message


class InvalidArgument(DomainError):
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(
        self,
        message: str,
        reason: str = "invalid_argument",
        violations: list[FieldViolation] | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason, violations or [], metadata or {})


class NotFound(DomainError):
    grpc_code = grpc.StatusCode.NOT_FOUND

    def __init__(
        self, message: str, reason: str = "not_found", metadata: dict[str, str] | None = None
    ) -> None:
        super().__init__(message, reason, [], metadata or {})


class Conflict(DomainError):
    grpc_code = grpc.StatusCode.ALREADY_EXISTS

    def __init__(
        self, message: str, reason: str = "conflict", metadata: dict[str, str] | None = None
    ) -> None:
        super().__init__(message, reason, [], metadata or {})


class InvalidTransition(DomainError):
    grpc_code = grpc.StatusCode.FAILED_PRECONDITION

    def __init__(
        self,
        message: str,
        reason: str = "invalid_transition",
        metadata: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason, [], metadata or {})


class PermissionDenied(DomainError):
    grpc_code = grpc.StatusCode.PERMISSION_DENIED

    def __init__(
        self,
        message: str,
        reason: str = "permission_denied",
        metadata: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason, [], metadata or {})
