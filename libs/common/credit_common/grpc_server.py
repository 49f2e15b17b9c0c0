"""gRPC server bootstrap: health, reflection, telemetry, graceful shutdown on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from wsgiref.simple_server import WSGIServer

import grpc
import sqlalchemy as sa
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from credit_common import heap, metrics
from credit_common.db import Database

log = logging.getLogger(__name__)

Register = Callable[[grpc.aio.Server], None]


class GrpcService:
    """A grpc.aio server with the standard health and reflection services."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        register: Register,
        service_names: Sequence[str],
        max_concurrent_rpcs: int | None = 256,
        metrics_port: int = 0,
        metrics_name: str = "",
    ) -> None:
        """`metrics_port`: serve Prometheus /metrics there (on `host`), the calls counted and
        timed under `metrics_name`; 0, the default: neither."""
        # A bounded number of calls in flight: past it callers get RESOURCE_EXHAUSTED at once
        # instead of queueing work whose callers have already given up.
        self.host = host
        self.metrics_port = metrics_port
        self._metrics: WSGIServer | None = None
        self.server = grpc.aio.server(
            interceptors=[metrics.CallMetrics(metrics_name)] if metrics_port else None,
            maximum_concurrent_rpcs=max_concurrent_rpcs,
            options=[
                ("grpc.so_reuseport", 0),
                ("grpc.max_receive_message_length", 64 * 1024 * 1024),
                # Clients reconnect (and resolve the backend's name again, finding pods
                # added since) at least this often; calls in flight get the grace to end.
                ("grpc.max_connection_age_ms", 300_000),
                ("grpc.max_connection_age_grace_ms", 60_000),
            ],
        )
        register(self.server)
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.service_names = list(service_names)
        reflection.enable_server_reflection(
            [*self.service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server
        )
        self.port = self.server.add_insecure_port(f"{host}:{port}")
        if self.port == 0:
            raise RuntimeError(f"cannot listen on {host}:{port}")

    async def start(self) -> None:
        await self.server.start()
        if self.metrics_port:
            self._metrics = metrics.serve(self.metrics_port, self.host)
            self.metrics_port = int(self._metrics.server_port)
            log.info("metrics on http://%s:%d/metrics", self.host, self.metrics_port)
        for name in ["", *self.service_names]:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace: float) -> None:
        for name in ["", *self.service_names]:
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.stop(grace)
        if self._metrics is not None:
            await asyncio.to_thread(self._metrics.shutdown)
            self._metrics.server_close()
            self._metrics = None

    async def watch(
        self, probe: Callable[[], Awaitable[None]], stop: asyncio.Event, *, every: float = 2.0
    ) -> None:
        """Keeps the health of the named services (not the server's own, "") telling
        whether the service can do its work: `probe` (its database answering) failing or
        hanging past `every` seconds makes them NOT_SERVING until it passes again. So a
        readiness check of a named service (Kubernetes, the gateway's /readyz) sees a
        service whose database is away, while a liveness check ("") does not restart a
        process that would not be mended by it."""
        serving = True
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)
            if stop.is_set():
                return
            try:
                await asyncio.wait_for(probe(), timeout=every)
                ok = True
            except Exception as error:  # any failure: not serving
                ok = False
                if serving:
                    log.warning("not serving: the dependency check failed: %r", error)
            if ok != serving:
                if ok:
                    log.info("serving again: the dependency check passed")
                status = (
                    health_pb2.HealthCheckResponse.SERVING
                    if ok
                    else health_pb2.HealthCheckResponse.NOT_SERVING
                )
                for name in self.service_names:
                    await self.health.set(name, status)
                serving = ok


def database_probe(db: Database) -> Callable[[], Awaitable[None]]:
    """A dependency check: the service's database answers a query."""

    async def probe() -> None:
        async with db.read() as conn:
            await conn.execute(sa.text("SELECT 1"))

    return probe


def install_stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


async def serve_until_stopped(
    service: GrpcService,
    background: Sequence[Awaitable[None]],
    *,
    grace: float,
    stop: asyncio.Event,
    on_ready: Callable[[int], None] | None = None,
    on_stop: Callable[[], Awaitable[None]] | None = None,
    probe: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Runs the server and background loops until SIGTERM/SIGINT, then drains them; with
    a `probe`, the named services' health follows it (GrpcService.watch).

    `stop` is the process's one stop event, the one the background loops (outbox relay,
    stream consumers, the lists clock) were given: the signal sets it at once, so while
    gRPC calls drain for up to `grace` seconds the loops end on their own, each finishing
    what it holds (a consumer its batch in hand, acknowledged; a relay or the clock its
    pass). Only a loop that has not returned `grace` seconds after the signal is cancelled,
    as a last resort (a consumer then releases the rest of its batch:
    StreamConsumer._handle_all)."""
    install_stop_signals(stop)
    await service.start()
    heap.settle()
    if on_ready:
        on_ready(service.port)
    tasks = [asyncio.ensure_future(job) for job in background]
    if probe is not None:
        tasks.append(asyncio.ensure_future(service.watch(probe, stop)))
    await stop.wait()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    log.info("stopping: draining calls and background work for up to %.1fs", grace)
    await service.stop(grace)
    if tasks:
        _done, late = await asyncio.wait(tasks, timeout=max(deadline - loop.time(), 0.0))
        for task in late:
            log.warning("stopping: cancelling %r, unfinished after %.1fs", task.get_coro(), grace)
            task.cancel()
        for task, outcome in zip(
            tasks, await asyncio.gather(*tasks, return_exceptions=True), strict=True
        ):
            if isinstance(outcome, Exception):
                log.error("background work %r failed", task.get_coro(), exc_info=outcome)
    if on_stop:
        await on_stop()
