"""Production gunicorn settings: ``gunicorn -c python:acme_api.gunicorn_conf``.

Every value can be overridden with the usual ``GUNICORN_CMD_ARGS`` or the
``ACME_GUNICORN_*`` variables read below.
"""

from __future__ import annotations

import os

_env = os.environ.get

wsgi_app = "acme_api.main:create_app()"
worker_class = "uvicorn_worker.UvicornWorker"
bind = _env("ACME_GUNICORN_BIND", "127.0.0.1:8000")
# One worker per core: each uvicorn worker is an event loop that already
# overlaps I/O, so more workers than cores only adds memory and contention.
workers = int(_env("ACME_GUNICORN_WORKERS", str(os.cpu_count() or 1)))
# Uvicorn's own shutdown waits for in-flight requests; gunicorn must give it
# longer than that before it kills a worker.
graceful_timeout = int(_env("ACME_GUNICORN_GRACEFUL_TIMEOUT", "30"))
timeout = int(_env("ACME_GUNICORN_TIMEOUT", "60"))
keepalive = int(_env("ACME_GUNICORN_KEEPALIVE", "5"))
max_requests = int(_env("ACME_GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = int(_env("ACME_GUNICORN_MAX_REQUESTS_JITTER", "0"))
accesslog = None  # the app writes its own access log line, with the request id
errorlog = _env("ACME_GUNICORN_ERROR_LOG", "-")
loglevel = _env("ACME_GUNICORN_LOG_LEVEL", "info")
forwarded_allow_ips = _env("ACME_GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
proc_name = "acme-api"
