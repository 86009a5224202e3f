"""The production stack on loopback, for the deploy tests and the benchmark runner.

nginx with deploy/'s edge template (in front of one server or of several
replicas), gunicorn started as production starts it (by the image's command
line, tini then gunicorn, or under supervisord with deploy/vm/supervisord.conf),
PgBouncer with deploy/pgbouncer/pgbouncer.ini, and a private PostgreSQL
cluster: each server in a session of its own, on a free port, in a directory
of its own, stopped by process group whatever happened in between.

Why here: the launcher is about deploy/'s configuration, so it lives beside it
and is not part of the acme-core wheel (which only lends it the generic parts:
free ports, polling and process groups from :mod:`acme.core.testing`). It is a
plain package on the import path of both users, with nothing to install:
``deploy`` is on pytest's ``pythonpath`` (``.pytest.toml``, for deploy/tests)
and on the bench environment's ``PYTHONPATH`` (``hatch.toml``, for
``acme_bench``), the way ``benchmarks`` already is.
"""

from __future__ import annotations

from .nginx import EDGE_TEMPLATE, Nginx, default_nginx, render_edge
from .pgbouncer import PGBOUNCER, PGBOUNCER_INI, PgBouncer, pgbouncer_setting
from .postgres import PG_BIN, PrivatePostgres, private_postgres
from .server import BIN, StackError, http_ok, running, wait_ready
from .traffic import Outcome, load
from .workers import (
    DOCKERFILE,
    SUPERVISORD_CONF,
    ApiUnderSupervisor,
    Gunicorn,
    InImage,
    image_command,
)

__all__ = [
    "BIN",
    "DOCKERFILE",
    "EDGE_TEMPLATE",
    "PGBOUNCER",
    "PGBOUNCER_INI",
    "PG_BIN",
    "SUPERVISORD_CONF",
    "ApiUnderSupervisor",
    "Gunicorn",
    "InImage",
    "Nginx",
    "Outcome",
    "PgBouncer",
    "PrivatePostgres",
    "StackError",
    "default_nginx",
    "http_ok",
    "image_command",
    "load",
    "pgbouncer_setting",
    "private_postgres",
    "render_edge",
    "running",
    "wait_ready",
]
