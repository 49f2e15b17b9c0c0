"""Liveness and readiness."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from credit_gateway.adapters import metrics
from credit_gateway.entrypoints.deps import GatewayDep

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process lives."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(gateway: GatewayDep) -> Any:
    """Each backend service by name, and whether it answers."""
    backends = gateway.backends
    answers = await asyncio.gather(*(b.ready() for b in backends))
    services = {
        b.name: ("ready" if ok else "unavailable") for b, ok in zip(backends, answers, strict=True)
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
