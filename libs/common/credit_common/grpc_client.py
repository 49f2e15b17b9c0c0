"""gRPC clients of other services: deadlines, one retry for idempotent reads, clear failures."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from credit_common.grpc_errors import from_rpc_error

T = TypeVar("T")
S = TypeVar("S")

# A backend away, too slow, or busy: past its calls in flight (GrpcService's bound) a server
# refuses a call with RESOURCE_EXHAUSTED before any work, so an idempotent call is tried
# once more (the next replica, round robin), and a caller is told the backend is away for
# now (a 503 naming it, with Retry-After), not that it hit a rate limit.
_UNAVAILABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}


class BackendUnavailable(Exception):
    def __init__(self, service: str, detail: str) -> None:
        super().__init__(f"{service} is unavailable: {detail}")
        self.service = service
        self.detail = detail


class Backend:
    """One backend service behind one channel."""

    _channel: Any = None
    # The gRPC service whose health `ready` asks (GrpcService.watch keeps it telling
    # whether the backend can work); "" asks whether its server is up at all.
    health_service = ""

    def __init__(self, name: str, address: str, deadline: float) -> None:
        self.name = name
        self.address = address
        self.deadline = deadline
        self._stubs: dict[Any, tuple[Any, Any]] = {}

    @property
    def channel(self) -> Any:
        """The channel, made on first use inside the running event loop. Calls are spread
        over every address the target resolves to (round_robin): with a headless
        Kubernetes Service, one connection per backend pod, each call to the next. The
        servers end connections after a few minutes (GrpcService), so names are resolved
        again and new pods join."""
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(
                self.address,
                options=[
                    ("grpc.lb_policy_name", "round_robin"),
                    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
                    ("grpc.initial_reconnect_backoff_ms", 100),
                    ("grpc.max_reconnect_backoff_ms", 500),
                ],
            )
        return self._channel

    async def call(self, rpc: Callable[..., Awaitable[T]], request: Any, *, idempotent: bool) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.deadline
        attempts = 2 if idempotent else 1
        for attempt in range(attempts):
            remaining = deadline - loop.time()
            try:
                # Waits (within the deadline) for a connection that is being made again, e.g.
                # after the backend restarted, instead of failing while the channel backs
                # off; a call is still sent once. A backend that stays away: DEADLINE_EXCEEDED.
                return await rpc(request, timeout=max(remaining, 0.05), wait_for_ready=True)
            except grpc.aio.AioRpcError as error:
                if error.code() not in _UNAVAILABLE:
                    raise from_rpc_error(error) from error
                if attempt + 1 == attempts or deadline - loop.time() < 0.1:
                    raise BackendUnavailable(self.name, error.code().name.lower()) from error
                await asyncio.sleep(0.05)
        raise AssertionError("unreachable")

    async def call_stream(
        self, rpc: Callable[..., Awaitable[T]], messages: Any, *, deadline: float
    ) -> T:
        """A client-streaming call: never retried (the stream is consumed once), and not
        waiting for a connection either: its deadline is long (a bulk upload), and a caller
        told at once that the backend is away can try again."""
        try:
            return await rpc(messages, timeout=deadline, wait_for_ready=False)
        except grpc.aio.AioRpcError as error:
            if error.code() in _UNAVAILABLE:
                raise BackendUnavailable(self.name, error.code().name.lower()) from error
            raise from_rpc_error(error) from error

    async def ready(self) -> bool:
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        try:
            reply = await health_pb2_grpc.HealthStub(self.channel).Check(
                health_pb2.HealthCheckRequest(service=self.health_service),
                timeout=min(self.deadline, 1.0),
            )
        except grpc.aio.AioRpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    def stub(self, factory: Callable[[Any], S]) -> S:
        """A stub of the given class on the current channel, made once."""
        cached = self._stubs.get(factory)
        if cached is None or cached[0] is not self.channel:
            cached = self._stubs[factory] = (self.channel, factory(self.channel))
        stub: S = cached[1]
        return stub

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None
