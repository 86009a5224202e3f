"""What production serves, to whom, and with which headers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from acme.core.migrations import Migrator
from acme.core.testing import free_port
from acme_api.main import create_app

from .conftest import client_of, make_settings, running_app

PUBLIC = "https://api.example.test"


async def migrated(tmp_path: Path) -> str:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'api.db'}"
    await asyncio.to_thread(Migrator(database_url).upgrade)
    return database_url


async def production(tmp_path: Path, **values: Any) -> dict[str, Any]:
    database_url = await migrated(tmp_path)
    return {
        "env": "production",
        "database_url": database_url,
        "public_url": PUBLIC,
        "oidc_client_id": "acme",
        "oidc_client_secret": "s3cr3t-from-the-provider-console",
        **values,
    }


@pytest.fixture
async def prod_app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    async with running_app(make_settings(**await production(tmp_path))) as app:
        yield app


@pytest.fixture
async def prod(prod_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(prod_app, PUBLIC) as http:
        yield http


async def _token(app: FastAPI) -> dict[str, str]:
    """A token for ``app``: production issues none itself, so a development app on
    the same database, keys and public URL does (a sign-in would, in real life)."""
    settings = app.state.container.settings
    development = settings.model_copy(update={"env": "development"})
    async with running_app(development) as issuer:
        token = await issuer.state.container.issue_access_token("alice")
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json", "/metrics"])
async def test_production_serves_no_docs_and_no_metrics_publicly(
    prod: httpx.AsyncClient, path: str
) -> None:
    answer = await prod.get(path)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"


async def test_docs_on_in_production_when_asked_with_swagger_ui_served_locally(
    tmp_path: Path,
) -> None:
    settings = make_settings(**await production(tmp_path, docs_enabled=True))
    async with running_app(settings) as app, client_of(app, PUBLIC) as http:
        page = await http.get("/docs")
        assert page.status_code == 200
        assert "cdn" not in page.text
        assert '"/docs/assets/swagger-ui-bundle.js"' in page.text
        script = await http.get("/docs/assets/swagger-ui-bundle.js")
        assert script.status_code == 200
        assert len(script.content) > 100_000
        assert (await http.get("/docs/assets/swagger-ui.css")).status_code == 200
        assert (await http.get("/openapi.json")).json()["info"]["title"] == "acme API"


async def test_metrics_have_a_listener_of_their_own(tmp_path: Path) -> None:
    port = free_port()
    settings = make_settings(**await production(tmp_path, metrics_bind=f"127.0.0.1:{port}"))
    async with running_app(settings) as app, client_of(app, PUBLIC) as http:
        assert (await http.get("/health/live")).status_code == 200
        assert (await http.get("/metrics")).status_code == 404
        async with httpx.AsyncClient() as scraper:
            scraped = await scraper.get(f"http://127.0.0.1:{port}/metrics")
        assert scraped.status_code == 200
        assert 'acme_http_requests_total{method="GET",route="/health/live",status="200"}' in (
            scraped.text
        )
    async with httpx.AsyncClient() as scraper:
        with pytest.raises(httpx.ConnectError):  # the listener stops with the app
            await scraper.get(f"http://127.0.0.1:{port}/metrics", timeout=2)


async def test_production_answers_only_its_own_hosts(tmp_path: Path) -> None:
    settings = make_settings(
        **await production(tmp_path, allowed_hosts="api.internal, Other.Example")
    )
    async with running_app(settings) as app, client_of(app, PUBLIC) as http:
        headers = await _token(app)
        for host in ("evil.example", "api.example.test.evil.example", "127.0.0.1:8000"):
            refused = await http.get("/items", headers=headers | {"Host": host})
            assert refused.status_code == 400, host
            assert refused.json()["code"] == "unknown_host"
            assert refused.json()["request_id"] == refused.headers["x-request-id"]
            assert refused.headers["x-content-type-options"] == "nosniff"
        for host in ("api.example.test", "api.example.test:443", "api.internal", "other.example"):
            assert (await http.get("/items", headers=headers | {"Host": host})).status_code == 200
        # probes call the health endpoints by the pod's address
        probe = await http.get("/health/live", headers={"Host": "10.1.2.3:8000"})
        assert probe.status_code == 200


async def test_written_urls_come_from_the_public_url_never_from_host(
    tmp_path: Path,
) -> None:
    database_url = await migrated(tmp_path)
    settings = make_settings(database_url=database_url, public_url="https://api.example.test")
    async with running_app(settings) as app, client_of(app, "http://evil.example") as http:
        headers = await _token(app)
        for n in range(2):
            created = await http.post("/items", json={"title": f"t{n}"}, headers=headers)
            assert created.headers["location"].startswith(f"{PUBLIC}/items/")
        page = await http.get("/items?limit=1&sort=created_at", headers=headers)
        assert page.json()["next"].startswith(f"{PUBLIC}/items?limit=1&sort=created_at&cursor=")
        assert page.headers["link"] == f'<{page.json()["next"]}>; rel="next"'
        assert "evil" not in created.text + page.text + str(page.headers)


async def test_security_headers(prod_app: FastAPI, prod: httpx.AsyncClient) -> None:
    authenticated = await prod.get("/items", headers=await _token(prod_app))
    assert authenticated.status_code == 200
    assert authenticated.headers["x-content-type-options"] == "nosniff"
    assert authenticated.headers["cache-control"] == "no-store"
    assert authenticated.headers["referrer-policy"] == "no-referrer"
    assert authenticated.headers["strict-transport-security"].startswith("max-age=")
    anonymous = await prod.get("/health/live")
    assert anonymous.headers["x-content-type-options"] == "nosniff"
    assert "cache-control" not in anonymous.headers
    refused = await prod.get("/items", headers={"Authorization": "Bearer nope"})
    assert (refused.status_code, refused.headers["cache-control"]) == (401, "no-store")


async def test_no_hsts_without_https(client: httpx.AsyncClient) -> None:
    answer = await client.get("/health/live")
    assert "strict-transport-security" not in answer.headers
    assert answer.headers["x-content-type-options"] == "nosniff"


async def test_a_metrics_port_in_use_fails_startup_and_closes_what_was_built(
    tmp_path: Path,
) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = make_settings(**await production(tmp_path, metrics_bind=f"127.0.0.1:{port}"))
        app = create_app(settings, configure_logs=False)
        with pytest.raises(OSError, match="in use"):
            async with app.router.lifespan_context(app):
                pass  # pragma: no cover - startup fails before this
    # the lifespan's cleanup ran: draining set, the relay, bus and database closed
    # (a connection left open would fail the run: ResourceWarnings are errors here)
    assert app.state.container.draining
