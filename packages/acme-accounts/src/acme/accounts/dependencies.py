"""The ports the accounts use cases need, and :func:`setup` to wire them from settings.

Framework-free: the API's bootstrap builds the adapters (database, HTTP
client, provider) and hands them to :func:`setup`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from acme.core.messaging import EventPublisher
from acme.core.persistence import SqlUnitOfWork
from acme.core.security import KeySet, TokenIssuer, TokenVerifier
from acme.core.security.oidc import OpenIDProvider

from ._status_memo import StatusMemo
from .ports import AccountsUnitOfWork
from .repository import SqlAccountsUnitOfWork
from .settings import AccountsSettings

__all__ = ["AccountsDependencies", "SessionPolicy", "setup", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How long each credential lives."""

    access_token_ttl: timedelta = timedelta(minutes=10)
    refresh_token_ttl: timedelta = timedelta(days=14)
    session_max_age: timedelta = timedelta(days=30)
    sign_in_timeout: timedelta = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class AccountsDependencies:
    """Everything the accounts use cases use.

    Attributes:
        unit_of_work: A factory of units of work (one per use case); a unit
            hands out the repositories and publishes events.
        tokens: Signs the API's access tokens.
        verifier: Verifies them (with its per-process cache).
        provider: The OpenID provider people sign in with.
        policy: Credential lifetimes.
        allow_local_accounts: Whether :func:`~acme.accounts.interface.issue_local_token`
            may make accounts without a provider (development only).
        clock: The current time (UTC).
        reader: Opens a read-only unit of work (no transaction) for
            :func:`~acme.accounts.interface.authenticate`, which runs on every
            request; the unit of work when not given.
        status: The per-process memo of account and session rows that
            :func:`~acme.accounts.interface.authenticate` reads (see
            ``ACME_SESSION_RECHECK_SECONDS``); off when not given.
    """

    unit_of_work: Callable[[], AccountsUnitOfWork]
    tokens: TokenIssuer
    verifier: TokenVerifier
    provider: OpenIDProvider
    policy: SessionPolicy = field(default_factory=SessionPolicy)
    allow_local_accounts: bool = False
    clock: Callable[[], datetime] = utcnow
    reader: Callable[[], AccountsUnitOfWork] | None = None
    status: StatusMemo = field(default_factory=lambda: StatusMemo(0))

    def read(self) -> AccountsUnitOfWork:
        """A unit of work for a single read."""
        return (self.reader or self.unit_of_work)()


def setup(
    settings: AccountsSettings,
    *,
    unit_of_work: Callable[[], SqlUnitOfWork],
    events: EventPublisher,
    keys: KeySet,
    provider: OpenIDProvider,
    reader: Callable[[], SqlUnitOfWork] | None = None,
) -> AccountsDependencies:
    """The accounts dependencies for these settings and adapters (SQL units of work)."""
    policy = SessionPolicy(
        access_token_ttl=timedelta(seconds=settings.access_token_ttl),
        refresh_token_ttl=timedelta(seconds=settings.refresh_token_ttl),
        session_max_age=timedelta(seconds=settings.session_max_age),
        sign_in_timeout=timedelta(seconds=settings.sign_in_timeout),
    )
    issuer = TokenIssuer(
        keys,
        issuer=settings.api_issuer,
        audience=settings.jwt_audience,
        lifetime=policy.access_token_ttl,
    )
    verifier = TokenVerifier(keys, issuer=settings.api_issuer, audience=settings.jwt_audience)
    return AccountsDependencies(
        unit_of_work=lambda: SqlAccountsUnitOfWork(unit_of_work(), events),
        tokens=issuer,
        verifier=verifier,
        provider=provider,
        policy=policy,
        allow_local_accounts=settings.env != "production",
        reader=None if reader is None else (lambda: SqlAccountsUnitOfWork(reader(), events)),
        status=StatusMemo(settings.session_recheck_seconds),
    )
