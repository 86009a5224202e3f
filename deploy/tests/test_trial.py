"""The local trial: a token from ``acme-api token issue`` works against a production server.

compose's ``trial`` profile runs ``token issue`` once, in development mode,
with the stack's own database and signing keys; the API itself stays in
production mode, where ``token issue`` is refused.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from stackkit import BIN, InImage, PrivatePostgres, running

pytestmark = [pytest.mark.integration, pytest.mark.system, pytest.mark.operations]


def acme_api(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "acme-api"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def production(postgres_cluster: PrivatePostgres, tini: str) -> Iterator[InImage]:
    """The image's command line in production mode, as compose's api service runs it."""
    root = Path(tempfile.mkdtemp(prefix="acme-trial-"))
    base = {k: v for k, v in os.environ.items() if not k.startswith("ACME_")}
    settings = {
        "ACME_SECRETS": "env",
        "ACME_DATABASE_URL": postgres_cluster.url,
        "ACME_PUBLIC_URL": "http://127.0.0.1:8080",
        "ACME_OIDC_CLIENT_ID": "trial",
        "ACME_OIDC_CLIENT_SECRET": "trial-client-secret-9f2c1e",
        "ACME_DB_POOL_SIZE": "2",
    }
    keys = acme_api("keys", "generate", env={**base, **settings})
    assert keys.returncode == 0, keys.stderr
    settings["ACME_JWT_KEYS"] = keys.stdout
    migrate = acme_api("migrate", env={**base, **settings, "ACME_ENV": "production"})
    assert migrate.returncode == 0, migrate.stderr
    server = InImage(root, env={**settings, "ACME_ENV": "production"}, workers=1)
    try:
        with running(server):
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_trial_token_is_accepted_by_the_production_server(production: InImage) -> None:
    env = {**production.environment(), "ACME_ENV": "development"}
    issued = acme_api("token", "issue", "--account", "trial", env=env)
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip().splitlines()[-1]
    # The production listener only knows ACME_PUBLIC_URL's host.
    headers = {"Authorization": f"Bearer {token}", "Host": "127.0.0.1:8080"}

    created = httpx.post(f"{production.url}/items", json={"title": "tried"}, headers=headers)
    listed = httpx.get(f"{production.url}/items", headers=headers)
    anonymous = httpx.get(f"{production.url}/items", headers={"Host": "127.0.0.1:8080"})

    assert created.status_code == 201, created.text
    assert [item["title"] for item in listed.json()["items"]] == ["tried"]
    assert anonymous.status_code == 401


def test_production_still_refuses_to_issue_tokens(production: InImage) -> None:
    refused = acme_api("token", "issue", "--account", "trial", env=production.environment())
    assert refused.returncode == 2
    assert "refused when ACME_ENV=production" in refused.stderr
