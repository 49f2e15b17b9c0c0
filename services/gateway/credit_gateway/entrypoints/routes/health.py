"""Liveness and readiness."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from credit_gateway.adapters import metrics
from credit_gateway.bootstrap import Gateway
from credit_gateway.entrypoints.deps import GatewayDep

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process lives."""
    return {"status": "ok"}


# How long /readyz waits for the gateway's own database and Redis (a backend service's
# health check has its own deadline, at most a second too).
READY_CHECK_SECONDS = 1.0


async def _answers(check: Awaitable[object]) -> bool:
    try:
        async with asyncio.timeout(READY_CHECK_SECONDS):
            await check
    except Exception:
        return False
    return True


async def _select_one(gateway: Gateway) -> None:
    async with gateway.db.read() as conn:
        await conn.exec_driver_sql("SELECT 1")


@router.get("/readyz")
async def readyz(gateway: GatewayDep) -> Any:
    """Each backend service by name, and whether it answers; with them the gateway's own
    database (clients, keys, the audit) and, when one is configured, its Redis (rate
    limits, idempotency, the public cache): without either it answers little but 503."""
    checks: dict[str, Awaitable[bool]] = {b.name: b.ready() for b in gateway.backends}
    checks["database"] = _answers(_select_one(gateway))
    if gateway.redis is not None:
        checks["redis"] = _answers(gateway.redis.ping())
    answers = await asyncio.gather(*checks.values())
    services = {
        name: ("ready" if ok else "unavailable") for name, ok in zip(checks, answers, strict=True)
    }
    ready = all(answers)
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "services": services},
        status_code=200 if ready else 503,
    )


@router.get("/metrics", include_in_schema=False)
async def prometheus() -> Response:
    """Requests, latency histograms and backend errors, in Prometheus text format."""
    return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)
