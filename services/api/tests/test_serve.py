"""``acme-api serve`` as a newcomer runs it: SQLite file, migrations on start, /docs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from acme.core.testing import free_port


def test_serve_migrates_and_answers_on_sqlite(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACME_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "acme_api", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                ready = httpx.get(f"{base}/health/ready", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert ready is not None, "the server never answered"
        assert ready.status_code == 200
        assert ready.json()["checks"]["database"] == "ok"
        assert httpx.get(f"{base}/docs", timeout=5).status_code == 200
        assert httpx.get(f"{base}/openapi.json", timeout=5).json()["info"]["title"] == "acme API"
        assert (tmp_path / "acme.db").exists()
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "Running upgrade" in output  # migrations were applied on start
    assert "Traceback" not in output
