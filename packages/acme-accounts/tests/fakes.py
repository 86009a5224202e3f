"""In-memory fakes of the accounts ports, kept honest by the use-case tests.

Every use-case test that does not read SQL itself runs on these fakes and on
the SQL adapters (SQLite and PostgreSQL): see conftest.py.
"""

from __future__ import annotations

import copy
import uuid
from datetime import datetime

from acme.accounts.models import Account, RefreshFamily, RefreshToken
from acme.core.errors import Conflict, NotFound
from acme.core.messaging import Message
from acme.core.testing.fakes import FakeUnitOfWork


class FakeAccountRepository:
    def __init__(self, sessions: FakeSessionRepository) -> None:
        self.rows: dict[uuid.UUID, Account] = {}
        self._sessions = sessions

    async def add(self, account: Account, /) -> None:
        taken = any(
            (a.issuer, a.subject) == (account.issuer, account.subject) for a in self.rows.values()
        )
        if taken or account.id in self.rows:
            raise Conflict("account already exists", code="account_conflict")
        self.rows[account.id] = copy.deepcopy(account)

    async def get(self, account_id: uuid.UUID, /) -> Account:
        if account_id not in self.rows:
            raise NotFound(f"account {account_id} not found", code="account_not_found")
        return copy.deepcopy(self.rows[account_id])

    async def update(self, account: Account, /) -> None:
        self.rows[account.id] = copy.deepcopy(account)

    async def find_by_identity(self, issuer: str, subject: str) -> Account | None:
        for account in self.rows.values():
            if (account.issuer, account.subject) == (issuer, subject):
                return copy.deepcopy(account)
        return None

    async def record_sign_in(
        self, account_id: uuid.UUID, *, now: datetime, email: str | None
    ) -> bool:
        account = self.rows.get(account_id)
        if account is None or not account.is_active:
            return False
        account.last_sign_in_at = now
        if email is not None:
            account.email = email
        return True

    async def find_with_session(
        self, account_id: uuid.UUID, family_id: uuid.UUID | None
    ) -> tuple[Account, RefreshFamily | None] | None:
        account = self.rows.get(account_id)
        if account is None:
            return None
        family = self._sessions.families.get(family_id) if family_id is not None else None
        if family is not None and family.account_id != account_id:
            family = None
        return copy.deepcopy(account), copy.deepcopy(family)


class FakeSessionRepository:
    def __init__(self) -> None:
        self.families: dict[uuid.UUID, RefreshFamily] = {}
        self.tokens: dict[str, RefreshToken] = {}

    async def add(self, family: RefreshFamily, /) -> None:
        self.families[family.id] = copy.deepcopy(family)

    async def get(self, family_id: uuid.UUID, /) -> RefreshFamily:
        if family_id not in self.families:
            raise NotFound(f"session {family_id} not found", code="session_not_found")
        return copy.deepcopy(self.families[family_id])

    async def add_token(self, token: RefreshToken) -> None:
        self.tokens[token.token_hash] = copy.deepcopy(token)

    async def find_token(self, token_hash: str) -> RefreshToken | None:
        token = self.tokens.get(token_hash)
        return None if token is None else copy.deepcopy(token)

    async def use_token(self, token_hash: str, now: datetime) -> bool:
        token = self.tokens.get(token_hash)
        if token is None or token.used_at is not None:
            return False
        token.used_at = now
        return True

    async def revoke(self, family_id: uuid.UUID, *, reason: str, now: datetime) -> None:
        family = self.families.get(family_id)
        if family is not None and family.revoked_at is None:
            family.revoked_at, family.revoked_reason = now, reason

    async def revoke_all(self, account_id: uuid.UUID, *, reason: str, now: datetime) -> int:
        open_ = [
            f for f in self.families.values() if f.account_id == account_id and f.revoked_at is None
        ]
        for family in open_:
            family.revoked_at, family.revoked_reason = now, reason
        return len(open_)


class FakeSpentSignInRepository:
    def __init__(self) -> None:
        self.rows: dict[str, datetime] = {}

    async def is_spent(self, state_hash: str) -> bool:
        return state_hash in self.rows

    async def spend(self, state_hash: str, *, expires_at: datetime) -> bool:
        if state_hash in self.rows:
            return False
        self.rows[state_hash] = expires_at
        return True

    async def purge_expired(self, now: datetime) -> int:
        expired = [h for h, expires_at in self.rows.items() if expires_at <= now]
        for state_hash in expired:
            del self.rows[state_hash]
        return len(expired)


class FakeAccountsStore:
    """The fake repositories every unit of work of one test shares, and its events."""

    def __init__(self) -> None:
        self.sessions = FakeSessionRepository()
        self.accounts = FakeAccountRepository(self.sessions)
        self.spent_sign_ins = FakeSpentSignInRepository()
        self.events: list[Message] = []

    def unit_of_work(self) -> FakeAccountsUnitOfWork:
        return FakeAccountsUnitOfWork(self)


class FakeAccountsUnitOfWork(FakeUnitOfWork):
    """:class:`~acme.accounts.ports.AccountsUnitOfWork` in memory."""

    def __init__(self, store: FakeAccountsStore) -> None:
        super().__init__(store.events)
        self.accounts = store.accounts
        self.sessions = store.sessions
        self.spent_sign_ins = store.spent_sign_ins
