"""Fixtures for acme-accounts' tests: migrated databases, a fake provider port, the deps."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from acme.accounts.dependencies import AccountsDeps, SessionPolicy
from acme.core.migrations import Migrator
from acme.core.persistence.database import Database
from acme.core.security import KeySet, TokenIssuer, TokenVerifier
from acme.core.security.oidc import AuthorizationRequest, Identity, SignInFailed

ISSUER = "https://api.accounts.test"


@dataclass
class FakeProvider:
    """The OpenID provider port, answering from a table of codes (unit tests only)."""

    issuer: str = "https://idp.test"
    codes: dict[str, Identity] = field(default_factory=dict)
    seen: list[tuple[str, str, str]] = field(default_factory=list)

    async def authorization_request(self) -> AuthorizationRequest:
        state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        return AuthorizationRequest(
            url=f"{self.issuer}/authorize?state={state}",
            state=state,
            nonce=nonce,
            code_verifier=secrets.token_urlsafe(48),
        )

    def will_sign_in(self, subject: str, **userinfo: Any) -> str:
        code = secrets.token_urlsafe(8)
        self.codes[code] = Identity(self.issuer, subject, {"sub": subject}, userinfo)
        return code

    async def complete(self, *, code: str, nonce: str, code_verifier: str) -> Identity:
        self.seen.append((code, nonce, code_verifier))
        identity = self.codes.pop(code, None)
        if identity is None:
            raise SignInFailed("the provider refused the authorization code: invalid_grant")
        return identity


class Clock:
    """A settable clock."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def _migrate(url: str) -> None:
    Migrator(url).upgrade()


@pytest.fixture(scope="session")
def migrated_postgres_url(postgres_url: str) -> str:
    _migrate(postgres_url)
    return postgres_url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "postgresql":
        yield request.getfixturevalue("migrated_postgres_url")
        return
    url: str = request.getfixturevalue("sqlite_url")
    _migrate(url)
    yield url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def deps(database: Database, provider: FakeProvider, clock: Clock) -> AccountsDeps:
    keys = KeySet.generate()
    policy = SessionPolicy(
        access_token_ttl=timedelta(minutes=5),
        refresh_token_ttl=timedelta(days=1),
        session_max_age=timedelta(days=3),
        sign_in_timeout=timedelta(minutes=5),
    )
    return AccountsDeps(
        unit_of_work=database.unit_of_work,
        tokens=TokenIssuer(
            keys, issuer=ISSUER, audience="acme-api", lifetime=policy.access_token_ttl
        ),
        verifier=TokenVerifier(keys, issuer=ISSUER, audience="acme-api"),
        provider=provider,
        policy=policy,
        allow_local_accounts=True,
        clock=clock,
        reader=database.reader,
    )


@pytest.fixture
def production_deps(deps: AccountsDeps) -> AccountsDeps:
    return replace(deps, allow_local_accounts=False)
