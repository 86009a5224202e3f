"""The container's authenticator: what the current-account dependency calls, and its swap."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import FastAPI

from acme.accounts.models import Account, AccountStatus
from acme_api.bootstrap import Container
from acme_api.main import create_app
from acme_api.settings import Settings

from .conftest import client_of

STAND_IN = Account(
    id=uuid.UUID(int=7),
    issuer="urn:test",
    subject="stand-in",
    display_name="Stand-in",
    email=None,
    status=AccountStatus.ACTIVE,
    created_at=datetime(2025, 1, 1, tzinfo=UTC),
)


async def test_the_default_authenticator_verifies_tokens(accounts_app: FastAPI) -> None:
    container: Container = accounts_app.state.container
    token = await container.issue_access_token("dora")
    assert (await container.authenticator(token)).subject == "dora"


async def test_create_app_swaps_the_authenticator_for_bearer_tokens_and_cookies(
    migrated_settings: Settings,
) -> None:
    seen: list[str] = []

    async def trusting(token: str) -> Account:
        seen.append(token)
        return STAND_IN

    app = create_app(migrated_settings, configure_logs=False, authenticator=trusting)
    async with app.router.lifespan_context(app), client_of(app, "https://testserver") as api:
        container: Container = app.state.container
        assert container.authenticator is trusting
        unauthenticated = await api.get("/accounts/me")
        by_bearer = await api.get("/accounts/me", headers={"Authorization": "Bearer not.a.jwt"})
        api.cookies.set("acme_session", "any-cookie", domain="testserver.local")
        by_cookie = await api.get("/accounts/me")
    assert [r.status_code for r in (by_bearer, by_cookie)] == [200, 200]
    assert by_bearer.json()["subject"] == by_cookie.json()["subject"] == "stand-in"
    assert seen == ["not.a.jwt", "any-cookie"]
    assert unauthenticated.status_code == 401  # no credentials: the authenticator is not asked
