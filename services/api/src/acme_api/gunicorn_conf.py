"""Production gunicorn settings: ``gunicorn -c python:acme_api.gunicorn_conf``.

Every value comes from an ``ACME_GUNICORN_*`` variable (or ``GUNICORN_CMD_ARGS``):

- ``BIND`` (``127.0.0.1:8000``), ``WORKERS`` (one per core), ``TIMEOUT`` (60),
  ``KEEPALIVE`` (5), ``MAX_REQUESTS`` and ``MAX_REQUESTS_JITTER`` (0: never recycle);
- ``GRACEFUL_TIMEOUT``: the limit for a worker's whole stop, which must exceed
  ``ACME_DRAIN_SECONDS`` (5) + ``ACME_SHUTDOWN_TIMEOUT`` (20), uvicorn's own wait
  for requests in flight (default: their sum + 5 = 30; see :mod:`acme_api.workers`);
- ``ERROR_LOG`` (``-``: stderr), ``LOG_LEVEL`` (``info``), ``PIDFILE`` (none),
  ``FORWARDED_ALLOW_IPS`` (``127.0.0.1``: the nginx in front), ``CONTROL_SOCKET`` (off);
- ``ACME_METRICS_DIR``: where workers share their Prometheus values (a fresh
  temporary directory when unset); emptied when gunicorn starts;
- ``ACME_METRICS_BIND``: ``HOST:PORT`` where the master serves ``GET /metrics``,
  every worker's values merged, apart from the API's listener (unset: the
  workers serve ``/metrics`` themselves in development, nobody in production).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from acme_api.workers import shutdown_timings

_env = os.environ.get

# prometheus-client picks its multiprocess mode when first imported, which the
# workers do after this file has run: set the directory before anything else.
_metrics_dir = Path(
    _env("PROMETHEUS_MULTIPROC_DIR")
    or _env("ACME_METRICS_DIR")
    or tempfile.mkdtemp(prefix="acme-metrics-")
)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_metrics_dir)

_timings = shutdown_timings()

wsgi_app = "acme_api.main:create_app()"
worker_class = "acme_api.workers.DrainingUvicornWorker"
bind = _env("ACME_GUNICORN_BIND", "127.0.0.1:8000")
# One worker per core: each uvicorn worker is an event loop that already
# overlaps I/O, so more workers than cores only adds memory and contention.
workers = int(_env("ACME_GUNICORN_WORKERS", str(os.cpu_count() or 1)))
graceful_timeout = int(_timings.graceful)
timeout = int(_env("ACME_GUNICORN_TIMEOUT", "60"))
keepalive = int(_env("ACME_GUNICORN_KEEPALIVE", "5"))
max_requests = int(_env("ACME_GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = int(_env("ACME_GUNICORN_MAX_REQUESTS_JITTER", "0"))
accesslog = None  # the app writes its own access log line, with the request id
errorlog = _env("ACME_GUNICORN_ERROR_LOG", "-")
loglevel = _env("ACME_GUNICORN_LOG_LEVEL", "info")
pidfile = _env("ACME_GUNICORN_PIDFILE") or None
forwarded_allow_ips = _env("ACME_GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
proc_name = "acme-api"
# gunicorn's control socket stays off unless given a path: by default every
# server on a host would share $HOME/.gunicorn/gunicorn.ctl.
_control_socket = _env("ACME_GUNICORN_CONTROL_SOCKET")
if _control_socket:
    control_socket = _control_socket
control_socket_disable = not _control_socket


def on_starting(server: Any) -> None:
    """Forget the metrics of a previous run: counters restart with the server."""
    _metrics_dir.mkdir(parents=True, exist_ok=True)
    for entry in _metrics_dir.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def when_ready(server: Any) -> None:
    """Serve the merged metrics from the master, on a listener of their own."""
    metrics_bind = _env("ACME_METRICS_BIND")
    if metrics_bind and _env("ACME_METRICS_ENABLED", "true").lower() not in ("0", "false", "no"):
        from acme_api.metrics import MetricsListener, multiprocess_registry

        MetricsListener.start(metrics_bind, multiprocess_registry())
        server.log.info("metrics served on %s", metrics_bind)


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges; its counters and histograms are kept."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, str(_metrics_dir))  # type: ignore[no-untyped-call]
