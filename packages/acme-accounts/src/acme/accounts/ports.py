"""The ports the accounts use cases depend on: a unit of work that hands out the repositories.

The SQL adapters are in :mod:`acme.accounts.repository`; in-memory fakes are
in the component's tests, and one suite runs the use cases on both.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from acme.core.messaging import Message
from acme.core.persistence import UnitOfWork

from .models import Account, RefreshFamily, RefreshToken

__all__ = [
    "AccountRepository",
    "AccountsUnitOfWork",
    "SessionRepository",
    "SpentSignInRepository",
]


class AccountRepository(Protocol):
    """Accounts, found by id or by their provider identity (issuer, subject)."""

    async def add(self, account: Account, /) -> None:
        """Store a new account. Raises :class:`Conflict` when its identity is taken."""
        ...

    async def get(self, account_id: uuid.UUID, /) -> Account:
        """The account. Raises :class:`NotFound`."""
        ...

    async def update(self, account: Account, /) -> None:
        """Write back a changed account."""
        ...

    async def find_by_identity(self, issuer: str, subject: str) -> Account | None: ...

    async def record_sign_in(
        self, account_id: uuid.UUID, *, now: datetime, email: str | None
    ) -> bool:
        """Stamp a sign-in (and a changed e-mail) on an active account; False if it is not.

        Only those columns change, and only while the account is active, so
        a disable committed meanwhile is never written back.
        """
        ...

    async def find_with_session(
        self, account_id: uuid.UUID, family_id: uuid.UUID | None
    ) -> tuple[Account, RefreshFamily | None] | None:
        """The account and (when ``family_id`` is given) that session of it, in one read."""
        ...


class SessionRepository(Protocol):
    """Sign-in sessions (refresh-token families) and their refresh tokens."""

    async def add(self, family: RefreshFamily, /) -> None: ...

    async def get(self, family_id: uuid.UUID, /) -> RefreshFamily:
        """The session. Raises :class:`NotFound`."""
        ...

    async def add_token(self, token: RefreshToken) -> None: ...

    async def find_token(self, token_hash: str) -> RefreshToken | None: ...

    async def use_token(self, token_hash: str, now: datetime) -> bool:
        """Mark a token used; ``True`` for the one caller that did so first."""
        ...

    async def revoke(self, family_id: uuid.UUID, *, reason: str, now: datetime) -> None:
        """End a session (idempotent: the first reason is kept)."""
        ...

    async def revoke_all(self, account_id: uuid.UUID, *, reason: str, now: datetime) -> int:
        """End every open session of an account; how many were open."""
        ...


class SpentSignInRepository(Protocol):
    """The states of finished sign-ins, each kept until its attempt would have expired anyway.

    Written only when a sign-in succeeds (after the provider accepted the
    code), so it grows with sign-ins, never with unauthenticated requests.
    """

    async def is_spent(self, state_hash: str) -> bool: ...

    async def spend(self, state_hash: str, *, expires_at: datetime) -> bool:
        """Record a finished sign-in's state; ``True`` for the one caller that did so first."""
        ...

    async def purge_expired(self, now: datetime) -> int:
        """Forget states whose attempt has expired (they are refused as expired); how many."""
        ...


class AccountsUnitOfWork(UnitOfWork, Protocol):
    """One transaction of the accounts component.

    The repositories are valid inside ``async with``; an event given to
    :meth:`publish` goes out if and only if the unit of work commits.
    """

    @property
    def accounts(self) -> AccountRepository: ...

    @property
    def sessions(self) -> SessionRepository: ...

    @property
    def spent_sign_ins(self) -> SpentSignInRepository: ...

    async def publish(self, message: Message) -> None:
        """Queue an event in this unit of work."""
        ...
