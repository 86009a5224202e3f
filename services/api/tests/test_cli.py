"""The ``acme-api`` command as a user runs it: a real process, real databases."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ACME_")}
    return subprocess.run(
        [sys.executable, "-m", "acme_api", *args],
        cwd=cwd,
        env=clean | (env or {}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_help_explains_the_commands(tmp_path: Path) -> None:
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0
    for word in ("serve", "migrate", "ACME_"):
        assert word in result.stdout


def test_migrate_check_then_upgrade_on_sqlite(tmp_path: Path) -> None:
    before = run("migrate", "--check", cwd=tmp_path)
    assert before.returncode == 1
    assert "pending migration(s)" in before.stdout
    assert "(accounts)" in before.stdout
    assert "(items)" in before.stdout
    assert (tmp_path / "acme.db").exists()  # the default database, in the working directory

    upgraded = run("migrate", cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    after = run("migrate", "--check", cwd=tmp_path)
    assert after.returncode == 0
    assert "database is up to date" in after.stdout


def test_migrate_on_postgres(fresh_postgres_url: str, tmp_path: Path) -> None:
    env = {"ACME_DATABASE_URL": fresh_postgres_url}
    assert run("migrate", cwd=tmp_path, env=env).returncode == 0
    check = run("migrate", "--check", cwd=tmp_path, env=env)
    assert check.returncode == 0, check.stdout + check.stderr


def test_bad_settings_name_every_variable_and_exit_2(tmp_path: Path) -> None:
    result = run(
        "migrate",
        cwd=tmp_path,
        env={"ACME_ENV": "staging", "ACME_PORT": "http", "ACME_DB_POOL_SIZE": "-1"},
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    for name in ("ACME_ENV", "ACME_PORT", "ACME_DB_POOL_SIZE"):
        assert name in result.stderr
    assert result.stderr.startswith("acme-api: invalid configuration (3 problems)")


def test_a_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ACME_ENV=nonsense\n")
    result = run("migrate", "--check", cwd=tmp_path)
    assert result.returncode == 2
    assert "ACME_ENV" in result.stderr


def test_an_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    result = run(
        "migrate",
        cwd=tmp_path,
        env={"ACME_DATABASE_URL": "sqlite+aiosqlite:////nonexistent-dir/x.db"},
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "unable to open database file" in result.stderr


@pytest.mark.parametrize("flag", ["--version"])
def test_version(tmp_path: Path, flag: str) -> None:
    result = run(flag, cwd=tmp_path)
    assert result.stdout.startswith("acme-api ")
