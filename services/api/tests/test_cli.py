"""The ``acme-api`` command as a user runs it, through ``main(argv)`` (the ``run`` fixture).

That the installed console script reaches this ``main`` is checked where a
real process is needed: ``hatch run wheels --install`` and ``test_serve.py``.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from .conftest import Run


def test_help_explains_the_commands(run: Run, tmp_path: Path) -> None:
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0
    for word in ("serve", "migrate", "ACME_"):
        assert word in result.stdout


def test_migrate_check_then_upgrade_on_sqlite(run: Run, tmp_path: Path) -> None:
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


def test_migrate_on_postgres(run: Run, fresh_postgres_url: str, tmp_path: Path) -> None:
    env = {"ACME_DATABASE_URL": fresh_postgres_url}
    assert run("migrate", cwd=tmp_path, env=env).returncode == 0
    check = run("migrate", "--check", cwd=tmp_path, env=env)
    assert check.returncode == 0, check.stdout + check.stderr


def test_bad_settings_name_every_variable_and_exit_2(run: Run, tmp_path: Path) -> None:
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


def test_a_dotenv_file_is_read(run: Run, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ACME_ENV=nonsense\n")
    result = run("migrate", "--check", cwd=tmp_path)
    assert result.returncode == 2
    assert "ACME_ENV" in result.stderr


def test_an_unreachable_database_is_a_clear_error(run: Run, tmp_path: Path) -> None:
    result = run(
        "migrate",
        cwd=tmp_path,
        env={"ACME_DATABASE_URL": "sqlite+aiosqlite:////nonexistent-dir/x.db"},
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "unable to open database file" in result.stderr


@pytest.mark.parametrize("flag", ["--version"])
def test_version(run: Run, tmp_path: Path, flag: str) -> None:
    result = run(flag, cwd=tmp_path)
    assert result.stdout.startswith("acme-api ")


def test_token_issue_prints_a_token_that_opens_protected_routes(run: Run, tmp_path: Path) -> None:
    first = run("token", "issue", "--account", "bench", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    token = first.stdout.strip()
    assert token.count(".") == 2
    assert "\n" not in token
    assert (tmp_path / ".acme" / "jwt-keys.json").stat().st_mode & 0o777 == 0o600
    second = run("token", "issue", "--account", "bench", cwd=tmp_path)
    assert second.returncode == 0, second.stderr

    import asyncio

    from acme.core.security import KeySet, TokenVerifier

    keys = KeySet.from_jwks((tmp_path / ".acme" / "jwt-keys.json").read_text())
    verifier = TokenVerifier(keys, issuer="http://127.0.0.1:8000", audience="acme-api")
    subjects = {asyncio.run(verifier.verify(t))["sub"] for t in (token, second.stdout.strip())}
    assert len(subjects) == 1  # the same local account both times


def test_token_issue_is_refused_in_production(run: Run, tmp_path: Path) -> None:
    from acme.core.security import KeySet

    env = {
        "ACME_ENV": "production",
        "ACME_JWT_KEYS": json.dumps(KeySet.generate().private_jwks()),
        "ACME_OIDC_CLIENT_ID": "acme",
        "ACME_OIDC_CLIENT_SECRET": "s3cr3t-from-the-provider-console",
        "ACME_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'production.db'}",
    }
    result = run("token", "issue", "--account", "x", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "refused when ACME_ENV=production" in result.stderr
    assert not (tmp_path / "acme.db").exists()


def test_production_without_keys_or_client_names_each_setting(run: Run, tmp_path: Path) -> None:
    result = run("migrate", "--check", cwd=tmp_path, env={"ACME_ENV": "production"})
    assert result.returncode == 2
    for name in (
        "ACME_JWT_KEYS",
        "ACME_OIDC_CLIENT_ID",
        "ACME_OIDC_CLIENT_SECRET",
        "ACME_DATABASE_URL",
    ):
        assert f"{name}: required when ACME_ENV=production" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_refuses_plain_http_but_on_loopback(run: Run, tmp_path: Path) -> None:
    env = {
        "ACME_ENV": "production",
        "ACME_PUBLIC_URL": "http://api.example.com",
        "ACME_OIDC_ISSUER": "http://id.example.com",
    }
    result = run("migrate", "--check", cwd=tmp_path, env=env)
    assert result.returncode == 2
    for name in ("ACME_PUBLIC_URL", "ACME_OIDC_ISSUER"):
        assert f"{name}: must be an https:// URL when ACME_ENV=production" in result.stderr
    loopback = env | {
        "ACME_PUBLIC_URL": "http://127.0.0.1:8080",
        "ACME_OIDC_ISSUER": "http://localhost:9000",
    }
    again = run("migrate", "--check", cwd=tmp_path, env=loopback)
    assert again.returncode == 2  # still: no keys, no client, no database
    assert "ACME_PUBLIC_URL" not in again.stderr
    assert "ACME_OIDC_ISSUER" not in again.stderr


def test_keys_generate_prints_a_usable_private_jwks_and_rotates(run: Run, tmp_path: Path) -> None:
    from acme.core.security import KeySet

    first = run("keys", "generate", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    keys = KeySet.from_jwks(first.stdout)
    assert keys.signing_key.algorithm == "ES256"
    (tmp_path / "current.json").write_text(first.stdout)
    rotated = run(
        "keys", "generate", "--algorithm", "EdDSA", "--rotate", "current.json", cwd=tmp_path
    )
    assert rotated.returncode == 0, rotated.stderr
    after = KeySet.from_jwks(rotated.stdout)
    assert after.signing_key.algorithm == "EdDSA"
    assert [k.kid for k in after.keys[1:]] == [keys.signing_key.kid]
    missing = run("keys", "generate", "--rotate", "nope.json", cwd=tmp_path)
    assert missing.returncode == 1
    assert "cannot read nope.json" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_accounts_disable_disables_and_refuses_bad_ids(run: Run, tmp_path: Path) -> None:
    import asyncio

    from acme.core.security import KeySet, TokenVerifier

    token = run("token", "issue", "--account", "eve", cwd=tmp_path).stdout.strip()
    keys = KeySet.from_jwks((tmp_path / ".acme" / "jwt-keys.json").read_text())
    verifier = TokenVerifier(keys, issuer="http://127.0.0.1:8000", audience="acme-api")
    account_id = asyncio.run(verifier.verify(token))["sub"]

    disabled = run("accounts", "disable", account_id, cwd=tmp_path)
    assert disabled.returncode == 0, disabled.stderr
    assert f"disabled {account_id} (eve)" in disabled.stdout
    with closing(sqlite3.connect(tmp_path / "acme.db")) as database:
        (status,) = database.execute("SELECT status FROM accounts WHERE subject = 'eve'").fetchone()
    assert status == "disabled"

    unknown = run("accounts", "disable", "7d6b3c5e-0000-4000-8000-000000000000", cwd=tmp_path)
    assert unknown.returncode == 1
    assert "not found" in unknown.stderr
    malformed = run("accounts", "disable", "eve", cwd=tmp_path)
    assert malformed.returncode == 1
    assert "not an account id" in malformed.stderr
    assert "Traceback" not in malformed.stderr + unknown.stderr
