"""Protected routes through the app: bearer tokens, the session cookie, CSRF, the JWKS."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from acme.accounts import interface
from acme.core.security import TokenVerifier
from acme.core.security.keys import public_keys_from_jwks
from acme_api.bootstrap import Container


def container(app: FastAPI) -> Container:
    found: Container = app.state.container
    return found


async def test_me_without_credentials_is_a_401_problem_with_a_challenge(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get("/accounts/me")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == 'Bearer realm="acme"'
    assert response.json()["code"] == "unauthenticated"


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-token", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer a.b.c"],
)
async def test_bad_credentials_are_401_with_invalid_token(
    api: httpx.AsyncClient, authorization: str
) -> None:
    response = await api.get("/accounts/me", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert response.json()["code"] == "invalid_token"


async def test_a_bearer_token_reaches_my_account(
    accounts_app: FastAPI, api: httpx.AsyncClient
) -> None:
    token = await container(accounts_app).issue_access_token("alice")
    response = await api.get("/accounts/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["subject"], body["issuer"], body["status"]) == (
        "alice",
        "urn:acme:local",
        "active",
    )

    patched = await api.patch(
        "/accounts/me",
        json={"display_name": "Alice A."},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["display_name"] == "Alice A."

    bad = await api.patch(
        "/accounts/me", json={"display_name": ""}, headers={"Authorization": f"Bearer {token}"}
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["pointer"] == "#/body/display_name"


async def test_an_expired_token_is_401(accounts_app: FastAPI, api: httpx.AsyncClient) -> None:
    deps = container(accounts_app).accounts
    _, account = await interface.issue_local_token(deps, "old-timer")
    stale = deps.tokens.issue(str(account.id), now=datetime.now(UTC) - timedelta(hours=1))
    response = await api.get("/accounts/me", headers={"Authorization": f"Bearer {stale.token}"})
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda claims: {**claims, "exp": str(claims["exp"])}, "'exp' claim is not a number"),
        (lambda claims: {**claims, "exp": 1e308}, "'exp' claim is out of range"),
    ],
    ids=["exp as a string", "exp past the year 9999"],
)
async def test_a_token_with_a_time_claim_of_the_wrong_kind_is_401(
    accounts_app: FastAPI,
    api: httpx.AsyncClient,
    change: Callable[[dict[str, Any]], dict[str, Any]],
    reason: str,
) -> None:
    claims, resign = await _resigner(accounts_app, "zoe")
    assert (await _me(api, resign(json.dumps(claims).encode()))).status_code == 200  # the control
    response = await _me(api, resign(json.dumps(change(claims)).encode()))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    assert reason in response.json()["detail"]


async def test_a_token_naming_a_claim_twice_is_401(
    accounts_app: FastAPI, api: httpx.AsyncClient
) -> None:
    claims, resign = await _resigner(accounts_app, "yann")
    # Even a repeat of the same value: which one a reader keeps is not to be guessed.
    twice = f"{json.dumps(claims)[:-1]}, {json.dumps('sub')}: {json.dumps(claims['sub'])}}}"
    response = await _me(api, resign(twice.encode()))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    assert "repeats the 'sub' claim" in response.json()["detail"]


async def _resigner(app: FastAPI, account: str) -> tuple[dict[str, Any], Callable[[bytes], str]]:
    """A real token's claims, and a signer of any payload with the API's key and header."""
    token = await container(app).issue_access_token(account)
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    header = jwt.get_unverified_header(token)
    key = container(app).keys.signing_key

    def resign(payload: bytes) -> str:
        return jwt.api_jws.encode(payload, key.key, algorithm=key.algorithm, headers=header)

    return claims, resign


async def _me(api: httpx.AsyncClient, token: str) -> httpx.Response:
    return await api.get("/accounts/me", headers={"Authorization": f"Bearer {token}"})


async def test_a_disabled_account_is_403(accounts_app: FastAPI, api: httpx.AsyncClient) -> None:
    deps = container(accounts_app).accounts
    token = await container(accounts_app).issue_access_token("mallory")
    account = await interface.authenticate(deps, token)
    await interface.disable_account(deps, account.id)
    response = await api.get("/accounts/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json()["code"] == "account_disabled"


async def test_the_session_cookie_works_and_unsafe_requests_need_the_csrf_header(
    accounts_app: FastAPI, api: httpx.AsyncClient
) -> None:
    token = await container(accounts_app).issue_access_token("carol")
    api.cookies.set("acme_session", token, domain="testserver.local")
    assert (await api.get("/accounts/me")).status_code == 200

    change = {"display_name": "Carol"}
    refused = await api.patch("/accounts/me", json=change)
    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf_failed"
    api.cookies.set("acme_csrf", "c" * 43, domain="testserver.local")
    wrong = await api.patch("/accounts/me", json=change, headers={"X-CSRF-Token": "x" * 43})
    assert wrong.status_code == 403
    accepted = await api.patch("/accounts/me", json=change, headers={"X-CSRF-Token": "c" * 43})
    assert accepted.status_code == 200, accepted.text


async def test_the_jwks_verifies_the_api_tokens(
    accounts_app: FastAPI, api: httpx.AsyncClient
) -> None:
    response = await api.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert "max-age" in response.headers["cache-control"]
    document = response.json()
    assert all("d" not in key for key in document["keys"])
    settings = container(accounts_app).settings
    keys = {key.kid: key for key in public_keys_from_jwks(document)}

    class Published:
        async def key_for(self, kid: str):  # type: ignore[no-untyped-def]
            return keys.get(kid)

    verifier = TokenVerifier(
        Published(), issuer=settings.api_issuer, audience=settings.jwt_audience
    )
    token = await container(accounts_app).issue_access_token("dave")
    assert (await verifier.verify(token))["sub"]
