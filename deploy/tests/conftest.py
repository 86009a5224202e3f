"""Fixtures for the deploy/ tests: the real nginx, supervisord, gunicorn and PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from stackkit import (
    BIN,
    PG_BIN,
    PGBOUNCER,
    ApiUnderSupervisor,
    Nginx,
    PgBouncer,
    PrivatePostgres,
    private_postgres,
    running,
)

from acme.core.testing import services_required


def require(condition: bool, reason: str) -> None:
    """Skip when a program the test needs is missing (fail when services are required)."""
    if condition:
        return
    if services_required():
        pytest.fail(f"required program missing (ACME_TEST_REQUIRE_SERVICES=1): {reason}")
    pytest.skip(f"PROGRAM MISSING, test skipped: {reason}")


@pytest.fixture(scope="session")
def nginx_binary() -> str:
    fallback = "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None
    binary = shutil.which("nginx") or fallback
    require(binary is not None, "nginx (Debian package nginx; .ci/run installs it)")
    assert binary is not None
    return binary


@pytest.fixture(scope="session")
def tini() -> str:
    """Debian's tini, the image's PID 1 (its ENTRYPOINT finds it on PATH)."""
    found = shutil.which("tini")
    require(found is not None, "tini (Debian package tini; .ci/run installs it)")
    assert found is not None
    return found


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PrivatePostgres]:
    """A private PostgreSQL cluster for the deploy tests: they may stop and restart it."""
    require((PG_BIN / "initdb").exists(), f"PostgreSQL server binaries in {PG_BIN}")
    yield from private_postgres()


ROLE_TIMEOUT = "ALTER ROLE postgres SET statement_timeout = '30s'"


@pytest.fixture(scope="session")
def pgbouncer(postgres_cluster: PrivatePostgres) -> Iterator[PgBouncer]:
    """Debian's PgBouncer with deploy/pgbouncer/pgbouncer.ini in front of the private cluster.

    Through PgBouncer no statement_timeout comes in the startup packet: it is
    set on the role, as deploy/README.md tells operators to.
    """
    require(os.path.exists(PGBOUNCER), "pgbouncer (Debian package pgbouncer; .ci/run installs it)")
    address = ["-h", "127.0.0.1", "-p", str(postgres_cluster.port), "-U", "postgres"]
    subprocess.run(
        [str(PG_BIN / "psql"), *address, "-d", "acme", "-c", ROLE_TIMEOUT],
        capture_output=True,
        check=True,
        timeout=30,
    )
    root = Path(tempfile.mkdtemp(prefix="acme-pgbouncer-"))
    with running(PgBouncer(root, server_port=postgres_cluster.port)) as bouncer:
        yield bouncer


@pytest.fixture(scope="session")
def api(postgres_cluster: PrivatePostgres, amqp_url: str) -> Iterator[ApiUnderSupervisor]:
    """gunicorn (two uvicorn workers) under supervisord, on the private cluster."""
    root = Path(tempfile.mkdtemp(prefix="acme-stack-"))
    env = {
        "ACME_DATABASE_URL": postgres_cluster.url,
        "ACME_AMQP_URL": amqp_url,
        "ACME_DB_POOL_TIMEOUT": "3",
        # Short stages keep the tests quick; the order of events is what is tested.
        "ACME_DRAIN_SECONDS": "2",
        "ACME_SHUTDOWN_TIMEOUT": "10",
    }
    server = ApiUnderSupervisor(root, env=env)
    # One signing key for every worker, as in production (ACME_JWT_KEYS).
    keys = subprocess.run(
        [str(BIN / "acme-api"), "keys", "generate"],
        env=server.environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    server.env["ACME_JWT_KEYS"] = keys.stdout
    migrate = subprocess.run(
        [str(BIN / "acme-api"), "migrate"],
        env=server.environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr
    with running(server):
        yield server


@pytest.fixture(scope="session")
def edge(api: ApiUnderSupervisor, nginx_binary: str) -> Iterator[Nginx]:
    """nginx with the deploy/ site config in front of the API (a generous rate limit)."""
    root = Path(tempfile.mkdtemp(prefix="acme-nginx-"))
    with running(Nginx(root, upstream=api.address, binary=nginx_binary)) as proxy:
        yield proxy


@pytest.fixture
def ready_api(api: ApiUnderSupervisor) -> ApiUnderSupervisor:
    """The API, after waiting until it is ready (a previous test may have restarted it)."""
    api.wait_ready()
    return api
