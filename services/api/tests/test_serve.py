"""``acme-api serve`` as a newcomer runs it: SQLite file, migrations on start, /docs."""

from __future__ import annotations

from pathlib import Path

import httpx

from acme.core.testing import free_port

from .conftest import serving


def test_serve_migrates_and_answers_on_sqlite(tmp_path: Path) -> None:
    with serving(port=free_port(), cwd=tmp_path) as served:
        ready = httpx.get(f"{served.base}/health/ready", timeout=2)
        assert ready.status_code == 200
        assert ready.json()["checks"]["database"] == "ok"
        assert httpx.get(f"{served.base}/docs", timeout=5).status_code == 200
        docs = httpx.get(f"{served.base}/openapi.json", timeout=5).json()
        assert docs["info"]["title"] == "acme API"
        assert (tmp_path / "acme.db").exists()
    assert served.process.returncode == 0, served.output
    assert "Running upgrade" in served.output  # migrations were applied on start
    assert "Traceback" not in served.output
