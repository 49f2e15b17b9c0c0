"""Prometheus metrics of the gateway."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "credit_gateway_requests_total",
    "HTTP requests by route and status",
    ["method", "route", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "credit_gateway_request_seconds",
    "HTTP request latency by route",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.0),
    registry=REGISTRY,
)
BACKEND_ERRORS = Counter(
    "credit_gateway_backend_errors_total",
    "Failed calls to backend services",
    ["service", "reason"],
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "credit_gateway_rate_limited_total", "Requests refused by the rate limit", registry=REGISTRY
)
SHED = Counter(
    "credit_gateway_shed_total",
    "Requests answered 503 at once because the gateway had its limit of requests in "
    "progress (max_in_flight) for longer than in_flight_wait_seconds",
    registry=REGISTRY,
)
IN_FLIGHT = Gauge(
    "credit_gateway_in_flight",
    "Requests in progress (health and metrics not counted)",
    registry=REGISTRY,
)
PUBLIC_CACHE = Counter(
    "credit_gateway_public_cache_total",
    "Public cache lookups and stores: hit, miss, stored, refused (changed meanwhile or "
    "expiring at once), unavailable (Redis away or nobody following the events), skipped "
    "(too many stores still under way)",
    ["outcome"],
    registry=REGISTRY,
)
