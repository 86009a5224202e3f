"""Production under gunicorn: metrics on the master's own listener, never on the API's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from acme.core.migrations import Migrator
from acme.core.security import KeySet
from acme.core.testing import free_port

from .conftest import gunicorn_serving

pytestmark = pytest.mark.system


@pytest.fixture
def production_gunicorn(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """gunicorn with two workers in production; yields (API URL, metrics URL)."""
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'api.db'}"
    Migrator(database_url).upgrade()
    metrics_port = free_port()
    env = {
        "ACME_ENV": "production",
        "ACME_DATABASE_URL": database_url,
        "ACME_PUBLIC_URL": "http://127.0.0.1",
        "ACME_ALLOWED_HOSTS": "127.0.0.1",
        "ACME_JWT_KEYS": json.dumps(KeySet.generate().private_jwks()),
        "ACME_OIDC_CLIENT_ID": "acme",
        "ACME_OIDC_CLIENT_SECRET": "s3cr3t-from-the-provider-console",
        "ACME_METRICS_BIND": f"127.0.0.1:{metrics_port}",
        "ACME_METRICS_DIR": str(tmp_path / "metrics"),
    }
    with gunicorn_serving(cwd=tmp_path, env=env) as api:
        yield api, f"http://127.0.0.1:{metrics_port}/metrics"


def test_the_master_serves_every_workers_metrics_apart(
    production_gunicorn: tuple[str, str],
) -> None:
    api, metrics = production_gunicorn
    with httpx.Client() as http:
        for _ in range(20):  # new connections, so both workers answer some
            assert http.get(f"{api}/health/live", headers={"Connection": "close"}).is_success
        assert http.get(f"{api}/metrics").status_code == 404
        assert http.get(f"{api}/docs").status_code == 404
        scraped = http.get(metrics)
    assert scraped.status_code == 200
    line = 'acme_http_requests_total{method="GET",route="/health/live",status="200"}'
    counted = [row for row in scraped.text.splitlines() if row.startswith(line)]
    assert counted, scraped.text
    # every answered probe is counted: the wait's own probes and the 20 above
    assert float(counted[0].split()[-1]) >= 21
