"""Starting sign-ins, which anyone may do, stores nothing: a flood of ``GET /auth/login``
leaves every table as it was, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import MetaData, func, select
from sqlalchemy.ext.asyncio import create_async_engine

from acme.core.migrations import Migrator
from acme.core.testing import eventually
from acme.core.testing.oidc import StandInProvider

from .conftest import client_of, make_settings, running_app

PUBLIC = "https://testserver"
FLOOD = 1000


@pytest.fixture
def stand_in() -> Iterator[StandInProvider]:
    with StandInProvider(dialect="standard") as running:
        yield running


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'api.db'}"
    url: str = request.getfixturevalue("fresh_postgres_url")
    return url


@pytest.fixture
async def api(stand_in: StandInProvider, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(
        database_url=database_url,
        public_url=PUBLIC,
        oidc_profile="standard",
        oidc_issuer=stand_in.issuer,
        oidc_client_id=stand_in.client_id,
        oidc_client_secret=stand_in.client_secret,
    )
    await asyncio.to_thread(Migrator(database_url).upgrade)
    async with running_app(settings) as app, client_of(app, PUBLIC) as http:
        yield http


async def _row_counts(url: str) -> dict[str, int]:
    """The number of rows of every table in the database (every component's, and core's)."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            tables = MetaData()
            await connection.run_sync(tables.reflect)
            return {
                name: (
                    await connection.execute(select(func.count()).select_from(table))
                ).scalar_one()
                for name, table in tables.tables.items()
            }
    finally:
        await engine.dispose()


async def test_a_thousand_sign_in_starts_write_nothing(
    api: httpx.AsyncClient, database_url: str
) -> None:
    before = await _row_counts(database_url)
    assert {"accounts", "account_spent_sign_ins", "acme_outbox"} <= set(before)
    cookies: set[str] = set()
    for _ in range(FLOOD):
        api.cookies.clear()  # a new "browser" each time, as a flood would be
        started = await api.get("/auth/login", params={"return_to": "/accounts/me"})
        assert started.status_code == 302, started.text
        cookies.add(started.cookies["__Host-acme_signin"])
    assert len(cookies) == FLOOD
    assert await _row_counts(database_url) == before


async def test_the_sealed_cookie_signs_in_once_and_writes_only_then(
    api: httpx.AsyncClient, database_url: str
) -> None:
    started = await api.get("/auth/login", params={"return_to": "/accounts/me"})
    cookie = started.headers["set-cookie"]
    for attribute in ("HttpOnly", "Secure", "SameSite=lax", "Path=/", "Max-Age=600"):
        assert attribute.lower() in cookie.lower()
    sealed = api.cookies["__Host-acme_signin"]
    async with httpx.AsyncClient() as browser:
        answered = await browser.get(started.headers["location"])
    callback = urlsplit(answered.headers["location"])
    path = f"{callback.path}?{callback.query}"
    before = await _row_counts(database_url)

    finished = await api.get(path)
    assert finished.status_code == 303, finished.text
    assert finished.headers["location"] == "/accounts/me"
    # The new account's event reaches its consumer after the response: count once it has.
    handled = before["acme_processed_messages"] + 1

    async def processed() -> int:
        return (await _row_counts(database_url))["acme_processed_messages"]

    await eventually(processed, handled)
    after = await _row_counts(database_url)
    assert after["account_spent_sign_ins"] == before["account_spent_sign_ins"] + 1

    api.cookies.clear()  # the cookie's holder replays the whole callback
    api.cookies.set("__Host-acme_signin", sealed, domain="testserver.local")
    replayed = await api.get(path)
    assert replayed.status_code == 400
    assert replayed.json()["code"] == "invalid_state"
    assert await _row_counts(database_url) == after


async def test_a_json_start_keeps_the_sealed_attempt_out_of_the_body(
    api: httpx.AsyncClient,
) -> None:
    started = await api.get("/auth/login", headers={"Accept": "application/json"})
    assert started.status_code == 200, started.text
    assert set(started.json()) == {"authorization_url", "state", "expires_in"}
    assert api.cookies["__Host-acme_signin"] not in started.text
