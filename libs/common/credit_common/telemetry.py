"""OpenTelemetry: off (the API's no-op tracer, nothing instrumented) unless the standard
OTEL_ variables ask for export; then gRPC (both sides), Redis, SQLAlchemy engines and the
gateway's FastAPI app are instrumented, and events carry the trace to their consumers."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

_state = {"enabled": False}
tracer = trace.get_tracer("credit_common")


def enabled() -> bool:
    return _state["enabled"]


def configure_tracing(service: str, exporter: SpanExporter | None = None) -> bool:
    """Installs a tracer provider exporting to OTLP (or to `exporter`) and instruments the
    process; returns whether tracing is on."""
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    if exporter is None:
        if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            return False
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    provider = TracerProvider(
        resource=Resource.create(
            {
                "service.name": os.environ.get("OTEL_SERVICE_NAME", f"credit-{service}"),
            }
        )
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    instrument_process()
    return True


def instrument_process() -> None:
    """Instruments gRPC (client and server) and Redis for the whole process."""
    from opentelemetry.instrumentation.grpc import (
        GrpcAioInstrumentorClient,
        GrpcAioInstrumentorServer,
    )
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    instrumentors: list[Any] = [
        GrpcAioInstrumentorServer(),  # type: ignore[no-untyped-call]
        GrpcAioInstrumentorClient(),  # type: ignore[no-untyped-call]
        RedisInstrumentor(),
    ]
    for instrumentor in instrumentors:
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument()
    _state["enabled"] = True


def instrument_grpc_server() -> None:
    """Kept for the services' entry points: instrument_process covers it."""
    instrument_process()


def instrument_grpc_client() -> None:
    instrument_process()


def instrument_engine(sync_engine: Any) -> None:
    if enabled():
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        # The instrumentation's version check stops at 2.0; its hooks work on 2.1 (tests check).
        SQLAlchemyInstrumentor().instrument(engine=sync_engine, skip_dep_check=True)  # type: ignore[no-untyped-call]


def instrument_fastapi(app: Any) -> None:
    if enabled():
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app)


@contextmanager
def span_from_event(name: str, carrier: Mapping[str, str], **attributes: Any) -> Iterator[None]:
    """A consumer's span, joined to the trace of the write that caused the event."""
    token = context.attach(propagate.extract(dict(carrier)))
    try:
        with tracer.start_as_current_span(
            name, kind=trace.SpanKind.CONSUMER, attributes=attributes
        ):
            yield
    finally:
        context.detach(token)
