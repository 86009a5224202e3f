"""Tracing, configured by OpenTelemetry's standard ``OTEL_*`` variables.

Off unless ``OTEL_TRACES_EXPORTER`` names an exporter (``console``, ``otlp``,
or both, comma-separated): unset, ``none`` or ``OTEL_SDK_DISABLED=true``
and :func:`tracing_from_env` returns ``None`` without importing the SDK,
so nothing is instrumented and nothing is created. On, one process gets:

- a server span per request (opentelemetry-instrumentation-fastapi);
- a span per SQL statement that goes through SQLAlchemy
  (opentelemetry-instrumentation-sqlalchemy); the hot reads that run on
  asyncpg directly (an item's get and a listing page on PostgreSQL,
  :mod:`acme.core.persistence.driver`) have none;
- the outbox hop (:mod:`acme.core.messaging.tracing`): a ``create`` span at
  the outbox write, a ``publish`` span per event relayed and a ``process``
  span per event and consumer, joined through the outbox row and the
  message headers.

The rest is the SDK's own reading of the environment: ``OTEL_SERVICE_NAME``
(``acme-api`` when unset), ``OTEL_RESOURCE_ATTRIBUTES``,
``OTEL_TRACES_SAMPLER``, ``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (OTLP over HTTP/protobuf),
``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_PROPAGATORS``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from acme.core.config import ConfigError
from acme.core.messaging import tracing as outbox_tracing

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider

    from acme.core.persistence.database import Database

__all__ = ["EXPORTERS", "Tracing", "tracing_from_env"]

EXPORTERS = ("console", "otlp")
"""The values ``OTEL_TRACES_EXPORTER`` accepts besides ``none``."""


def _exporters() -> list[str]:
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    names = [n.strip().lower() for n in os.environ.get("OTEL_TRACES_EXPORTER", "").split(",")]
    chosen = [n for n in dict.fromkeys(names) if n and n != "none"]
    unknown = [n for n in chosen if n not in EXPORTERS]
    if unknown:
        raise ConfigError(
            {"OTEL_TRACES_EXPORTER": f"unknown exporter {unknown[0]!r}; use console, otlp or none"}
        )
    return chosen


def tracing_from_env() -> Tracing | None:
    """The process's tracing as the ``OTEL_*`` variables describe it; ``None`` when off.

    Raises:
        ConfigError: ``OTEL_TRACES_EXPORTER`` names an exporter the API does not ship.
    """
    exporters = _exporters()
    if not exporters:
        return None
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SimpleSpanProcessor,
    )

    # Resource.create reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES;
    # attributes given here would override them, so the default only when unset.
    named = "OTEL_SERVICE_NAME" in os.environ or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    provider = TracerProvider(resource=Resource.create({} if named else {SERVICE_NAME: "acme-api"}))
    if "console" in exporters:
        # For a developer's terminal: each span printed as it ends.
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stdout)))
    if "otlp" in exporters:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return Tracing(provider)


@dataclass
class Tracing:
    """A process's tracer provider and what it instruments.

    :meth:`instrument_app` when the app is built (the server span wraps every
    middleware), :meth:`start` once the database exists (the lifespan),
    :meth:`shutdown` last, which exports what is still buffered.
    """

    provider: TracerProvider

    def instrument_app(self, app: FastAPI) -> None:
        """Give every request a server span (not the ASGI receive/send ones, noise here)."""
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(
            app, tracer_provider=self.provider, exclude_spans=["receive", "send"]
        )

    def start(self, database: Database) -> None:
        """Trace ``database``'s statements and the outbox hop."""
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        # The instrumentation declares SQLAlchemy < 2.1 only, which its
        # release lags behind: the engine events it hooks are unchanged in 2.1
        # (the tests check the statements' spans), so its version check is skipped.
        SQLAlchemyInstrumentor().instrument(
            engine=database.engine.sync_engine,
            tracer_provider=self.provider,
            skip_dep_check=True,
        )
        outbox_tracing.install(self.provider)

    def shutdown(self) -> None:
        """Stop tracing and export the spans still buffered."""
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        outbox_tracing.uninstall()
        SQLAlchemyInstrumentor().uninstrument()
        self.provider.shutdown()
