"""Prometheus metrics: request counts and latency histograms per route.

Under gunicorn every worker is its own process, so a counter kept in memory
would only ever show one worker's share. When ``PROMETHEUS_MULTIPROC_DIR`` is
set (``acme_api.gunicorn_conf`` sets it), prometheus-client writes every value
to a file in that directory and ``GET /metrics`` merges the files of all
workers, live and dead, into one answer. Without it (the dev server, tests),
the app's own registry is served.

Routes are labelled by their template (``/items/{item_id}``), never by the raw
path, so the number of series stays bounded; a path that matched no route is
``<unmatched>``.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

__all__ = [
    "METRICS_PATH",
    "HttpMetrics",
    "MetricsListener",
    "RequestMetrics",
    "metrics_endpoint",
    "multiprocess_dir",
]

METRICS_PATH = "/metrics"
UNMATCHED = "<unmatched>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds; dense where an API answers (a few ms to a second), sparse beyond.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)


def multiprocess_dir() -> str | None:
    """The directory shared by gunicorn's workers, when metrics are multiprocess."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class HttpMetrics:
    """The HTTP metrics of one app, registered in the app's own registry.

    One registry per app (rather than prometheus-client's global one) lets tests
    build many apps in one process; in multiprocess mode the values live in the
    shared directory whatever the registry.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "acme_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "acme_http_request_duration_seconds",
            "Time from receiving a request to the end of its response, by route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_progress = Gauge(
            "acme_http_requests_in_progress",
            "HTTP requests being served right now (summed over live workers).",
            ["method"],
            registry=self.registry,
            multiprocess_mode="livesum",
        )

    def render(self) -> bytes:
        """The exposition text: every worker's values when multiprocess, else this app's."""
        directory = multiprocess_dir()
        if directory is None:
            return generate_latest(self.registry)
        return generate_latest(multiprocess_registry())


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class RequestMetrics:
    """Counts every HTTP request and times it, labelled by the matched route.

    :class:`acme_api.middleware.RequestContextMiddleware` calls :meth:`begin`
    before the app and :meth:`end` after it, in its own pass over the request.
    """

    def __init__(self, metrics: HttpMetrics) -> None:
        self.metrics = metrics
        self._cache: dict[tuple[str, ...], Any] = {}

    def begin(self, scope: Scope) -> str:
        """Count the request in progress; its method's label."""
        # Any token is a method to the HTTP parser: label the standard ones only, so a
        # client cannot mint series (nor entries in the children's cache).
        method: str = scope["method"] if scope["method"] in _METHODS else "OTHER"
        self._children(("in_progress", method), self.metrics.in_progress, method).inc()
        return method

    def end(self, scope: Scope, method: str, status: int, seconds: float) -> None:
        """Record the request answered with ``status`` after ``seconds``."""
        self._children(("in_progress", method), self.metrics.in_progress, method).dec()
        route = _route_template(scope)
        latency = self._children(("latency", method, route), self.metrics.latency, method, route)
        latency.observe(seconds)
        code = str(status)
        count = self._children(
            ("requests", method, route, code), self.metrics.requests, method, route, code
        )
        count.inc()

    def _children(self, key: tuple[str, ...], metric: Any, *labels: str) -> Any:
        # A metric's child per label values, looked up once: labels() takes a lock and
        # checks its arguments on every call. Label values are bounded (methods, route
        # templates, status codes), so is this dict.
        child = self._cache.get(key)
        if child is None:
            child = self._cache[key] = metric.labels(*labels)
        return child


async def metrics_endpoint(request: Request) -> Response:
    """``GET /metrics``: the Prometheus exposition of the app's metrics."""
    metrics: HttpMetrics = request.app.state.metrics
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)


class MetricsListener:
    """``GET /metrics`` on an address of its own, apart from the API's public listener.

    prometheus-client's small HTTP server, in a daemon thread: production
    never serves metrics where the API's clients can reach them.
    """

    def __init__(self, server: Any, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @classmethod
    def start(cls, bind: str, registry: Collector) -> MetricsListener:
        """Listen on ``bind`` (``HOST:PORT``; an empty host is every address)."""
        host, _, port = bind.rpartition(":")
        server, thread = start_http_server(
            # an empty host is every address, as the operator asked with ":9100"
            int(port),
            addr=host.strip("[]") or "0.0.0.0",  # noqa: S104
            registry=registry,
        )
        return cls(server, thread)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def multiprocess_registry() -> CollectorRegistry:
    """A registry that merges every worker's values from the shared directory."""
    merged = CollectorRegistry()
    MultiProcessCollector(merged, path=multiprocess_dir())  # type: ignore[no-untyped-call]
    return merged
