from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from acme_api.main import create_app

from .conftest import make_settings


async def test_live_answers_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_checks_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok"}}


async def test_ready_on_postgres(postgres_url: str) -> None:
    app = create_app(make_settings(database_url=postgres_url), configure_logs=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.get("/health/ready")
    assert response.status_code == 200


@pytest.fixture
async def down_client() -> AsyncIterator[httpx.AsyncClient]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = make_settings(
        database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{port}/none", db_pool_timeout=1
    )
    app = create_app(settings, configure_logs=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            yield http


async def test_ready_is_a_503_problem_when_the_database_is_down(
    down_client: httpx.AsyncClient,
) -> None:
    response = await down_client.get("/health/ready")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    body = response.json()
    assert body["code"] == "not_ready"
    assert body["checks"] == {"database": "unavailable"}
    assert body["detail"].startswith("database: database unreachable")
    # Liveness does not depend on the database.
    assert (await down_client.get("/health/live")).status_code == 200


async def test_ready_turns_503_while_draining(app: object, client: httpx.AsyncClient) -> None:
    app.state.container.draining = True  # type: ignore[attr-defined]
    response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["code"] == "draining"
