"""Tracing under gunicorn: each worker sets up its exporter after the fork."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from acme.core.migrations import Migrator
from acme.core.security import KeySet
from acme.core.testing import wait_until

from .conftest import gunicorn_serving
from .test_tracing_export import Receiver, receiver  # noqa: F401 - the fixture

pytestmark = pytest.mark.system


def test_two_workers_export_one_trace_per_create_to_the_consumer(
    receiver: Receiver,  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'api.db'}"
    Migrator(database_url).upgrade()
    acme = {
        "PATH": str(Path(sys.executable).parent) + os.pathsep + "/usr/bin:/bin",
        "ACME_DATABASE_URL": database_url,
        "ACME_JWT_KEYS": json.dumps(KeySet.generate().private_jwks()),
        "ACME_METRICS_DIR": str(tmp_path / "metrics"),
    }
    otel = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_SERVICE_NAME": "acme-api-gunicorn",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # ms: export soon after each span ends
    }
    issued = subprocess.run(
        [sys.executable, "-m", "acme_api", "token", "issue", "--account", "alice"],
        cwd=tmp_path,
        env=acme,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    token = issued.stdout.strip().splitlines()[-1]
    with gunicorn_serving(cwd=tmp_path, env=acme | otel) as api, httpx.Client() as http:
        for n in range(4):  # new connections, spread over the workers
            created = http.post(
                f"{api}/items",
                json={"title": f"n{n}"},
                headers={"Authorization": f"Bearer {token}", "Connection": "close"},
            )
            assert created.status_code == 201, created.text

        def traced() -> int:
            spans = [s for _, s in receiver.spans()]
            creates = {s.trace_id for s in spans if s.name == "POST /items"}
            processed = {
                s.trace_id
                for s in spans
                if s.kind == Span.SPAN_KIND_CONSUMER and s.name == "process item.created"
            }
            return len(creates & processed)

        wait_until(lambda: traced() == 4, timeout=30, what="four traces, request to consumer")
    services = {resource["service.name"] for resource, _ in receiver.spans()}
    assert services == {"acme-api-gunicorn"}
