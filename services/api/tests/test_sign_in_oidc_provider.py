"""Sign-in end to end against a real OpenID provider (oidc-provider on loopback), over plain HTTP.

The API runs in process; the "browser" is an httpx client walking the
provider's own login and consent pages.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from acme.core.migrations import Migrator
from acme.core.security import generate_key
from acme.core.security.oidc.client import OidcClient
from acme_api.settings import Settings

from .conftest import client_of, make_settings, running_app
from .oidc_peer import NodeProvider, log_in, provider_keys

pytestmark = pytest.mark.integration

PUBLIC = "https://testserver"
CALLBACK = f"{PUBLIC}/auth/callback"


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[NodeProvider]:
    with NodeProvider(redirect_uris=[CALLBACK], keys=provider_keys(), workdir=tmp_path) as running:
        yield running


@pytest.fixture
def oidc_settings(provider: NodeProvider, postgres_url: str) -> Settings:
    settings = make_settings(
        database_url=postgres_url,
        public_url=PUBLIC,
        oidc_profile="standard",
        oidc_issuer=provider.issuer,
        oidc_client_id=provider.client_id,
        oidc_client_secret=provider.client_secret,
        oidc_jwks_refetch_interval=0,
    )
    Migrator(settings.database_url.get_secret_value()).upgrade()
    return settings


@pytest.fixture
async def app(oidc_settings: Settings) -> AsyncIterator[FastAPI]:
    async with running_app(oidc_settings) as application:
        yield application


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(app, PUBLIC) as http:
        yield http


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def _sign_in(
    api: httpx.AsyncClient, login: str, *, accept_json: bool = False
) -> httpx.Response:
    started = await api.get("/auth/login", params={"return_to": "/accounts/me"})
    assert started.status_code == 302, started.text
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        callback = await asyncio.to_thread(
            log_in, browser, started.headers["location"], login=login, redirect_prefix=CALLBACK
        )
    headers = {"Accept": "application/json"} if accept_json else {}
    return await api.get(_path(callback), headers=headers)


async def test_sign_in_then_my_account_refresh_and_sign_out(
    api: httpx.AsyncClient, provider: NodeProvider
) -> None:
    finished = await _sign_in(api, "ada")
    assert finished.status_code == 303, finished.text
    assert finished.headers["location"] == "/accounts/me"
    set_cookies = finished.headers.get_list("set-cookie")
    session = next(c for c in set_cookies if c.startswith("__Host-acme_session="))
    for attribute in ("HttpOnly", "Secure", "SameSite=lax", "Path=/"):
        assert attribute.lower() in session.lower()

    me = await api.get("/accounts/me")
    assert me.status_code == 200, me.text
    account = me.json()
    assert (account["issuer"], account["subject"]) == (provider.issuer, "ada")
    assert (account["display_name"], account["email"]) == ("Test ada", "ada@example.test")

    csrf = api.cookies["__Host-acme_csrf"]
    assert (await api.post("/auth/refresh")).status_code == 403  # the cookie alone is not enough
    refreshed = await api.post("/auth/refresh", headers={"X-CSRF-Token": csrf})
    assert refreshed.status_code == 200, refreshed.text
    assert (await api.get("/accounts/me")).status_code == 200

    signed_out = await api.post(
        "/auth/logout", headers={"X-CSRF-Token": api.cookies["__Host-acme_csrf"]}
    )
    assert signed_out.status_code == 204
    assert (await api.get("/accounts/me")).status_code == 401
    again = await api.post(
        "/auth/refresh", json={"refresh_token": refreshed.json()["refresh_token"]}
    )
    assert again.status_code == 401


async def test_json_clients_get_tokens_and_a_replayed_callback_fails(
    api: httpx.AsyncClient,
) -> None:
    started = await api.get("/auth/login", headers={"Accept": "application/json"})
    assert started.status_code == 200
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        callback = await asyncio.to_thread(
            log_in,
            browser,
            started.json()["authorization_url"],
            login="bob",
            redirect_prefix=CALLBACK,
        )
    finished = await api.get(_path(callback), headers={"Accept": "application/json"})
    assert finished.status_code == 200, finished.text
    body = finished.json()
    assert body["token_type"] == "Bearer"
    assert body["account"]["subject"] == "bob"
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    assert (await api.get("/accounts/me", headers=bearer)).json()["subject"] == "bob"

    replay = await api.get(_path(callback), headers={"Accept": "application/json"})
    assert replay.status_code == 400
    assert replay.json()["code"] == "invalid_state"

    first = await api.post("/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert first.status_code == 200
    reused = await api.post("/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert reused.status_code == 401
    assert reused.json()["code"] == "refresh_token_reused"
    after = await api.post("/auth/refresh", json={"refresh_token": first.json()["refresh_token"]})
    assert after.status_code == 401  # the whole family was revoked


async def test_two_concurrent_refreshes_through_the_api_one_wins(api: httpx.AsyncClient) -> None:
    body = (await _sign_in(api, "carol", accept_json=True)).json()
    results = await asyncio.gather(
        *(
            api.post("/auth/refresh", json={"refresh_token": body["refresh_token"]})
            for _ in range(2)
        )
    )
    assert sorted(r.status_code for r in results) == [200, 401]


async def test_provider_key_rotation_needs_one_jwks_refetch(
    app: FastAPI, api: httpx.AsyncClient, provider: NodeProvider
) -> None:
    assert (await _sign_in(api, "dan")).status_code == 303
    client = app.state.container.provider
    assert isinstance(client, OidcClient)
    assert client.jwks is not None
    assert client.jwks.fetches == 1

    old_kid = provider.keys.signing_key.kid
    provider.restart(provider.keys.rotated(generate_key("RS256", rsa_key_size=2048)))
    assert provider.keys.signing_key.kid != old_kid
    api.cookies.clear()
    assert (await _sign_in(api, "dan")).status_code == 303
    assert client.jwks.fetches == 2
    assert (await api.get("/accounts/me")).json()["subject"] == "dan"
