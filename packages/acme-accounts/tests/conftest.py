"""Fixtures for acme-accounts' tests: the ports on three backends, a fake provider, a clock.

``deps`` runs on the in-memory fakes (tests/fakes.py), on SQLite and on
PostgreSQL; a test that reads SQL itself (it asks for ``database``) runs on
the two databases only. ``published`` reads the events a backend kept: the
fakes' committed events, or the outbox rows the SQL adapters wrote.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from acme.accounts.dependencies import AccountsDependencies, SessionPolicy
from acme.accounts.ports import AccountsUnitOfWork
from acme.accounts.repository import SqlAccountsUnitOfWork
from acme.core.messaging.publisher import OutboxPublisher
from acme.core.messaging.tables import outbox
from acme.core.migrations import Migrator
from acme.core.persistence.database import Database
from acme.core.security import KeySet, TokenIssuer, TokenVerifier
from acme.core.security.oidc import AuthorizationRequest, Identity, SignInFailed

from .fakes import FakeAccountsStore

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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend_url" in metafunc.fixturenames:
        backends = ["sqlite", "postgresql"]
        if "database" not in metafunc.fixturenames:
            backends.insert(0, "fake")
        metafunc.parametrize("backend_url", backends, indirect=True)


@pytest.fixture
def backend_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for the fakes; a migrated SQLite file, or the run's migrated PostgreSQL."""
    if request.param == "fake":
        yield None
    elif request.param == "postgresql":
        yield request.getfixturevalue("migrated_postgres_url")
    else:
        url: str = request.getfixturevalue("sqlite_url")
        _migrate(url)
        yield url


@pytest.fixture
async def backend(backend_url: str | None) -> AsyncIterator[FakeAccountsStore | Database]:
    """The fakes' shared store, or a database on the SQL adapters."""
    if backend_url is None:
        yield FakeAccountsStore()
        return
    db = Database(backend_url)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
def database(backend: FakeAccountsStore | Database) -> Database:
    """The SQL backend's database (tests that read SQL themselves; never the fakes)."""
    assert isinstance(backend, Database), "the fake backend has no database"
    return backend


@pytest.fixture
def published(
    backend: FakeAccountsStore | Database,
) -> Callable[[str], Awaitable[list[tuple[int, dict[str, Any]]]]]:
    """``await published(type)``: (version, payload) of each kept event of that type."""

    async def read(message_type: str) -> list[tuple[int, dict[str, Any]]]:
        if isinstance(backend, FakeAccountsStore):
            return [(m.version, m.payload) for m in backend.events if m.type == message_type]
        async with backend.engine.connect() as connection:
            query = select(outbox.c.version, outbox.c.payload).where(outbox.c.type == message_type)
            return [(row.version, row.payload) for row in await connection.execute(query)]

    return read


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def deps(
    backend: FakeAccountsStore | Database, provider: FakeProvider, clock: Clock
) -> AccountsDependencies:
    keys = KeySet.generate()
    policy = SessionPolicy(
        access_token_ttl=timedelta(minutes=5),
        refresh_token_ttl=timedelta(days=1),
        session_max_age=timedelta(days=3),
        sign_in_timeout=timedelta(minutes=5),
    )
    if isinstance(backend, FakeAccountsStore):
        unit_of_work: Callable[[], AccountsUnitOfWork] = backend.unit_of_work
        reader = None
    else:
        database, events = backend, OutboxPublisher()
        unit_of_work = lambda: SqlAccountsUnitOfWork(database.unit_of_work(), events)  # noqa: E731
        reader = lambda: SqlAccountsUnitOfWork(database.reader(), events)  # noqa: E731
    return AccountsDependencies(
        unit_of_work=unit_of_work,
        tokens=TokenIssuer(
            keys, issuer=ISSUER, audience="acme-api", lifetime=policy.access_token_ttl
        ),
        verifier=TokenVerifier(keys, issuer=ISSUER, audience="acme-api"),
        provider=provider,
        policy=policy,
        allow_local_accounts=True,
        clock=clock,
        reader=reader,
    )


@pytest.fixture
def production_deps(deps: AccountsDependencies) -> AccountsDependencies:
    return replace(deps, allow_local_accounts=False)
