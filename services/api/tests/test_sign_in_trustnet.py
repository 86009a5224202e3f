"""The trustnet profile end to end through the API, against a loopback stand-in speaking
TrustNet's documented wire format; and how the callback fails when something is wrong."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import pytest
from fastapi import FastAPI

from acme.core.migrations import Migrator
from acme.core.security import SigningKey
from acme.core.testing.oidc import StandInProvider
from acme_api.main import create_app

from .conftest import client_of, make_settings

PUBLIC = "https://testserver"


@pytest.fixture(params=["trustnet", "standard"])
def stand_in(request: pytest.FixtureRequest) -> Iterator[StandInProvider]:
    with StandInProvider(dialect=request.param) as running:
        yield running


@pytest.fixture
def trustnet() -> Iterator[StandInProvider]:
    with StandInProvider(dialect="trustnet") as running:
        yield running


async def _app_for(provider: StandInProvider, tmp_path: Path, **extra: Any) -> FastAPI:
    values: dict[str, Any] = {
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'api.db'}",
        "public_url": PUBLIC,
        "oidc_profile": provider.dialect,
        "oidc_issuer": provider.issuer,
        "oidc_client_id": provider.client_id,
        "oidc_client_secret": provider.client_secret,
    }
    settings = make_settings(**(values | extra))
    await asyncio.to_thread(Migrator(settings.database_url.get_secret_value()).upgrade)
    return create_app(settings, configure_logs=False)


@pytest.fixture
async def api(stand_in: StandInProvider, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = await _app_for(stand_in, tmp_path)
    async with app.router.lifespan_context(app), client_of(app, PUBLIC) as http:
        yield http


async def _through_provider(api: httpx.AsyncClient) -> str:
    """Start at /auth/login and return the callback path the provider sends the browser to."""
    started = await api.get("/auth/login")
    assert started.status_code == 302, started.text
    async with httpx.AsyncClient() as browser:
        answered = await browser.get(started.headers["location"])
    assert answered.status_code == 302
    callback = urlsplit(answered.headers["location"])
    assert f"{callback.scheme}://{callback.netloc}{callback.path}" == f"{PUBLIC}/auth/callback"
    return f"{callback.path}?{callback.query}"


async def test_sign_in_end_to_end(api: httpx.AsyncClient, stand_in: StandInProvider) -> None:
    stand_in.persona = "p-42"
    finished = await api.get(await _through_provider(api))
    assert finished.status_code == 303, finished.text
    me = await api.get("/accounts/me")
    assert me.status_code == 200
    assert (me.json()["issuer"], me.json()["subject"]) == (stand_in.issuer, "p-42")
    assert me.json()["email"] == "persona@example.test"
    if stand_in.dialect == "trustnet":
        sent = stand_in.token_requests[-1]
        assert sent["grant_type"] == "code"
        assert set(sent) == {"grant_type", "code", "redirect_uri", "client_id", "client_secret"}


async def test_bad_or_missing_state_is_a_400(api: httpx.AsyncClient) -> None:
    callback = await _through_provider(api)
    tampered = callback.replace("state=", "state=x")
    response = await api.get(tampered)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_state"
    api.cookies.clear()  # the sign-in was started in another browser
    response = await api.get(callback)
    assert response.status_code == 400
    assert "this browser" in response.json()["detail"]


async def test_a_provider_error_is_a_400_that_says_so(api: httpx.AsyncClient) -> None:
    started = await api.get("/auth/login")
    state = dict(p.split("=", 1) for p in urlsplit(started.headers["location"]).query.split("&"))[
        "state"
    ]
    response = await api.get(
        "/auth/callback",
        params={"state": state, "error": "access_denied", "error_description": "user said no"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "provider_error"
    assert "access_denied" in response.json()["detail"]


async def test_a_replayed_code_is_a_400(api: httpx.AsyncClient) -> None:
    first = await _through_provider(api)
    code = dict(p.split("=", 1) for p in urlsplit(first).query.split("&"))["code"]
    assert (await api.get(first)).status_code == 303
    second = await _through_provider(api)
    replayed = second.replace(
        dict(p.split("=", 1) for p in urlsplit(second).query.split("&"))["code"], code
    )
    response = await api.get(replayed)
    assert response.status_code == 400
    assert response.json()["code"] == "code_exchange_failed"
    assert "invalid_grant" in response.json()["detail"]


async def test_an_invalid_id_token_is_a_401(
    api: httpx.AsyncClient, stand_in: StandInProvider
) -> None:
    def expired(claims: dict[str, Any], headers: dict[str, Any], key: SigningKey) -> str:
        claims = {**claims, "exp": int(time.time()) - 3600}
        return jwt.encode(claims, key.key, algorithm=key.algorithm, headers=headers)

    stand_in.tamper = expired
    response = await api.get(await _through_provider(api))
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"
    assert "WWW-Authenticate" in response.headers


async def test_a_callback_from_another_issuer_is_refused(api: httpx.AsyncClient) -> None:
    callback = await _through_provider(api)
    response = await api.get(callback + "&iss=https%3A%2F%2Fevil.test")
    assert response.status_code == 400
    assert response.json()["code"] == "issuer_mismatch"


async def test_without_a_client_registration_sign_in_is_a_503(tmp_path: Path) -> None:
    settings = make_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'api.db'}")
    await asyncio.to_thread(Migrator(settings.database_url.get_secret_value()).upgrade)
    app = create_app(settings, configure_logs=False)
    async with app.router.lifespan_context(app), client_of(app, PUBLIC) as api:
        response = await api.get("/auth/login")
    assert response.status_code == 503
    assert "ACME_OIDC_CLIENT_ID" in response.json()["detail"]


async def test_an_unreachable_provider_is_a_503_not_a_500(
    trustnet: StandInProvider, tmp_path: Path
) -> None:
    app = await _app_for(trustnet, tmp_path, oidc_issuer="http://127.0.0.1:9", oidc_timeout=1)
    async with app.router.lifespan_context(app), client_of(app, PUBLIC) as api:
        response = await api.get("/auth/login")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
