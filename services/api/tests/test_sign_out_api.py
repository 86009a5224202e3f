"""``POST /auth/logout`` says what it does: a token of no session cannot be revoked, and says so."""

from __future__ import annotations

from datetime import datetime

import httpx
import jwt
from fastapi import FastAPI

from acme_api.bootstrap import Container


async def test_signing_out_a_cli_token_is_a_409_naming_when_it_expires(
    accounts_app: FastAPI, api: httpx.AsyncClient
) -> None:
    container: Container = accounts_app.state.container
    token = await container.issue_access_token("cli-user")  # what `acme-api token issue` prints
    bearer = {"Authorization": f"Bearer {token}"}

    response = await api.post("/auth/logout", headers=bearer)

    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:acme:problem:token_not_revocable"
    assert problem["code"] == "token_not_revocable"
    expires_at = datetime.fromisoformat(problem["expires_at"])
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    assert expires_at.timestamp() == exp
    assert expires_at.utcoffset() is not None
    assert problem["expires_at"].endswith("Z")
    assert problem["expires_at"] in problem["detail"]
    # the answer is true: the token was not revoked
    assert (await api.get("/accounts/me", headers=bearer)).status_code == 200


async def test_the_openapi_document_lists_the_409_of_sign_out(api: httpx.AsyncClient) -> None:
    document = (await api.get("/openapi.json")).json()
    responses = document["paths"]["/auth/logout"]["post"]["responses"]
    assert "token_not_revocable" in responses["409"]["description"]
    assert "application/problem+json" in responses["409"]["content"]
    assert "204" in responses
