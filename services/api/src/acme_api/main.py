"""The app factory and its lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from acme.core.config import load_settings
from acme.core.logging import configure_logging

from . import bootstrap
from .__about__ import __version__
from .direct_lane import DirectLane, include_direct
from .direct_route import DirectRoute
from .docs import OPENAPI_PATH, install_docs
from .metrics import (
    METRICS_PATH,
    HttpMetrics,
    MetricsListener,
    metrics_endpoint,
    multiprocess_dir,
)
from .middleware import RequestContextMiddleware
from .openapi import install_openapi
from .pipeline_metrics import PipelineMetrics
from .problems import install_problem_handlers
from .routes import accounts, auth, health, items, pages, well_known
from .settings import Settings
from .tracing import Tracing, tracing_from_env

__all__ = ["create_app"]

logger = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    configure_logs: bool = True,
    tracing: Tracing | None = None,
    authenticator: bootstrap.Authenticator | None = None,
) -> FastAPI:
    """Build the ASGI app. Adapters are created by the lifespan, not here.

    Args:
        settings: Ready settings (tests); loaded from the environment otherwise.
        configure_logs: Install acme's log handler (off in tests, which capture logs).
        tracing: Ready tracing (tests); from the ``OTEL_*`` variables otherwise.
        authenticator: Replaces the container's authenticator (the benchmarks'
            variant without authentication); ``None`` keeps the real one.

    Raises:
        ConfigError: the environment does not describe a usable configuration.
    """
    settings = settings or load_settings(Settings)
    if configure_logs:
        _configure_logs(settings)
    # Off (None, the SDK not even imported) unless OTEL_TRACES_EXPORTER names an exporter.
    tracing = tracing or tracing_from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        container = await bootstrap.build(
            settings,
            consume=settings.consumers_in_api,
            tracing=tracing,
            pipeline=_pipeline_metrics(app, settings),
            authenticator=authenticator,
        )
        app.state.container = container
        listener = None
        # Everything started after the container is inside the try: a failure
        # to start (the metrics port taken, say) still closes the container.
        try:
            if settings.relay_in_api:
                container.relay.start()
            if settings.metrics_enabled and settings.metrics_bind and multiprocess_dir() is None:
                # One process (acme-api serve): its own listener. Under gunicorn the
                # master serves every worker's values (acme_api.gunicorn_conf).
                listener = MetricsListener.start(settings.metrics_bind, app.state.metrics.registry)
            elif settings.metrics_enabled and settings.is_production and not settings.metrics_bind:
                logger.warning("metrics are collected but served nowhere: set ACME_METRICS_BIND")
            logger.info("acme-api %s started (env=%s)", __version__, settings.env)
            yield
        finally:
            container.draining = True
            if listener is not None:
                listener.stop()
            await container.aclose()
            logger.info("acme-api stopped")

    docs = settings.serves_docs
    app = FastAPI(
        title="acme API",
        version=__version__,
        summary="The acme platform's HTTP API.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=OPENAPI_PATH if docs else None,
        # Tracing is acme's own (acme_api.tracing, from the OTEL_* variables, on a provider
        # of its own): FastAPI's native telemetry, which would look up OpenTelemetry's
        # global providers on every request, stays off.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    # URLs the API writes (Location, next, Link) start here, never at the Host header.
    app.state.public_url = settings.public_url.rstrip("/")
    if docs:
        install_docs(app)
    # Every route that reads a body checks it first (see acme_api.json_body);
    # the routers say so too, wherever they are mounted.
    app.router.route_class = DirectRoute
    install_problem_handlers(app)
    _install_middleware(app, settings)
    # Routes are matched in this order, one by one: the hot paths come first.
    include_direct(app, items.router)
    app.include_router(health.router)
    app.include_router(well_known.router)
    app.include_router(auth.router)
    app.include_router(accounts.router)
    app.include_router(pages.router)
    install_openapi(app)
    if tracing is not None:
        tracing.instrument_app(app)
    return app


def _install_middleware(app: FastAPI, settings: Settings) -> None:
    """acme's middleware: the request context (the whole edge, one pass) outside the lane."""
    # Innermost: the items routes' ordinary requests, without FastAPI's routing layers.
    app.add_middleware(DirectLane)
    metrics = None
    if settings.metrics_enabled:
        metrics = app.state.metrics = HttpMetrics()
        if settings.metrics_on_api_listener:
            app.add_route(METRICS_PATH, metrics_endpoint, include_in_schema=False)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        hsts=settings.public_url.startswith("https://"),
        hosts=settings.accepted_hosts,
        metrics=metrics,
    )


def _configure_logs(settings: Settings) -> None:
    """acme-core's logging, with log records that leave out what no line of ours prints:
    the thread, process and process name (the logging HOWTO's "Optimization" switches;
    the caller lookup stays, ``stack_info`` needs it).
    """
    configure_logging(env=settings.env, level=settings.log_level, fmt=settings.log_format)
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def _pipeline_metrics(app: FastAPI, settings: Settings) -> PipelineMetrics | None:
    """The event pipeline's metrics, in the app's registry when metrics are on."""
    metrics: HttpMetrics | None = getattr(app.state, "metrics", None)
    if metrics is None:
        return None
    return PipelineMetrics(metrics.registry, shared_dead_letters=settings.amqp_url is not None)
