"""Maps domain errors to gRPC statuses with google.rpc details, and back."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from credit_common.db import refused_value as db_refused_value
from credit_common.db import unavailable as db_unavailable
from credit_common.errors import DomainError, FieldViolation, InvalidArgument

log = logging.getLogger(__name__)
DOMAIN = "credit.platform"
T = TypeVar("T")


def to_status(error: DomainError) -> grpc.Status:
    details = []
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=DOMAIN, metadata=error.metadata)
    packed = any_pb2.Any()
    packed.Pack(info)
    details.append(packed)
    if error.violations:
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.message)
                for v in error.violations
            ]
        )
        packed_bad = any_pb2.Any()
        packed_bad.Pack(bad)
        details.append(packed_bad)
    status = status_pb2.Status(
        code=error.grpc_code.value[0], message=error.message, details=details
    )
    return rpc_status.to_status(status)


def map_domain_errors(cls: type[T]) -> type[T]:
    """Class decorator: every async RPC method turns DomainError into its gRPC status."""
    for name, method in list(vars(cls).items()):
        if name.startswith("_") or not inspect.iscoroutinefunction(method):
            continue
        setattr(cls, name, _wrap(method))
    return cls


def _wrap(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await method(self, request, context)
        except DomainError as error:
            await context.abort_with_status(to_status(error))
        except Exception as error:
            if db_unavailable(error):
                # The database refused a connection, none was free in time, or it rolled
                # the transaction back: trying again later may work, which is what
                # UNAVAILABLE tells a caller (credit_common.db.unavailable).
                log.warning("%s: database unavailable: %s", method.__qualname__, error)
                await context.abort(grpc.StatusCode.UNAVAILABLE, "database unavailable")
            refused = db_refused_value(error)
            if refused is not None:
                log.warning("%s: the database refused a value: %s", method.__qualname__, refused)
                await context.abort_with_status(
                    to_status(
                        InvalidArgument(
                            f"a value the database cannot store: {refused}",
                            "invalid_value",
                            [FieldViolation("request", refused)],
                        )
                    )
                )
            log.exception("unexpected error in %s", method.__qualname__)
            await context.abort(grpc.StatusCode.INTERNAL, "internal error")

    return wrapper


class RemoteError(Exception):
    """A gRPC error as a caller sees it: code, message, reason and field violations."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        reason: str,
        violations: list[FieldViolation],
        metadata: dict[str, str],
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason
        self.violations = violations
        self.metadata = metadata


def from_rpc_error(error: grpc.aio.AioRpcError) -> RemoteError:
    reason = ""
    violations: list[FieldViolation] = []
    metadata: dict[str, str] = {}
    for key, value in error.trailing_metadata() or ():
        if key != "grpc-status-details-bin" or not isinstance(value, bytes):
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason = info.reason
                metadata = dict(info.metadata)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations = [FieldViolation(v.field, v.description) for v in bad.field_violations]
    return RemoteError(error.code(), error.details() or "", reason, violations, metadata)


__all__ = ["RemoteError", "code_pb2", "from_rpc_error", "map_domain_errors", "to_status"]
