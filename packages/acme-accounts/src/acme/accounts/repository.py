"""The SQL adapters of the accounts ports: the repositories and the unit of work."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from acme.core.persistence import ComponentUnitOfWork, SqlRepository

from .models import Account, AccountStatus, RefreshFamily, RefreshToken
from .tables import accounts, refresh_families, refresh_tokens, spent_sign_ins

__all__ = [
    "SqlAccountRepository",
    "SqlAccountsUnitOfWork",
    "SqlSessionRepository",
    "SqlSpentSignInRepository",
]


def _account(row: Row[Any]) -> Account:
    m = row._mapping
    return Account(
        id=m["id"],
        issuer=m["issuer"],
        subject=m["subject"],
        display_name=m["display_name"],
        email=m["email"],
        status=AccountStatus(m["status"]),
        created_at=m["created_at"],
        last_sign_in_at=m["last_sign_in_at"],
    )


def _account_values(account: Account) -> Mapping[str, Any]:
    return {
        "id": account.id,
        "issuer": account.issuer,
        "subject": account.subject,
        "display_name": account.display_name,
        "email": account.email,
        "status": account.status.value,
        "created_at": account.created_at,
        "last_sign_in_at": account.last_sign_in_at,
    }


class SqlAccountRepository(SqlRepository[Account]):
    """Accounts, found by id or by their provider identity (issuer, subject)."""

    def __init__(self, connection: AsyncConnection) -> None:
        super().__init__(
            connection,
            table=accounts,
            to_entity=_account,
            to_values=_account_values,
            entity_name="account",
        )

    async def find_by_identity(self, issuer: str, subject: str) -> Account | None:
        """The account a provider identity belongs to, or ``None``."""
        query = select(accounts).where(accounts.c.issuer == issuer, accounts.c.subject == subject)
        found = await self.fetch(query)
        return found[0] if found else None

    async def record_sign_in(
        self, account_id: uuid.UUID, *, now: datetime, email: str | None
    ) -> bool:
        values: dict[str, Any] = {"last_sign_in_at": now}
        if email is not None:
            values["email"] = email
        result = await self.connection.execute(
            update(accounts)
            .where(accounts.c.id == account_id, accounts.c.status == AccountStatus.ACTIVE.value)
            .values(**values)
        )
        return bool(result.rowcount == 1)

    async def find_with_session(
        self, account_id: uuid.UUID, family_id: uuid.UUID | None
    ) -> tuple[Account, RefreshFamily | None] | None:
        """The account and (when ``family_id`` is given) its session, in one query."""
        if family_id is None:
            account = await self.find(account_id)
            return None if account is None else (account, None)
        query = (
            select(accounts, *[c.label(f"f_{c.key}") for c in refresh_families.c])
            .select_from(
                accounts.outerjoin(
                    refresh_families,
                    (refresh_families.c.id == family_id)
                    & (refresh_families.c.account_id == accounts.c.id),
                )
            )
            .where(accounts.c.id == account_id)
        )
        row = (await self.connection.execute(query)).first()
        if row is None:
            return None
        m = row._mapping
        family = None
        if m["f_id"] is not None:
            family = _family_from({k[2:]: v for k, v in m.items() if k.startswith("f_")})
        return _account(row), family


def _family_from(m: Mapping[str, Any]) -> RefreshFamily:
    return RefreshFamily(
        id=m["id"],
        account_id=m["account_id"],
        created_at=m["created_at"],
        expires_at=m["expires_at"],
        revoked_at=m["revoked_at"],
        revoked_reason=m["revoked_reason"],
    )


def _family_values(family: RefreshFamily) -> Mapping[str, Any]:
    return {
        "id": family.id,
        "account_id": family.account_id,
        "created_at": family.created_at,
        "expires_at": family.expires_at,
        "revoked_at": family.revoked_at,
        "revoked_reason": family.revoked_reason,
    }


class SqlSessionRepository(SqlRepository[RefreshFamily]):
    """Sign-in sessions (refresh-token families) and their tokens."""

    def __init__(self, connection: AsyncConnection) -> None:
        super().__init__(
            connection,
            table=refresh_families,
            to_entity=lambda row: _family_from(dict(row._mapping)),
            to_values=_family_values,
            entity_name="session",
        )

    async def add_token(self, token: RefreshToken) -> None:
        await self.connection.execute(
            refresh_tokens.insert().values(
                token_hash=token.token_hash,
                family_id=token.family_id,
                issued_at=token.issued_at,
                expires_at=token.expires_at,
                used_at=token.used_at,
            )
        )

    async def find_token(self, token_hash: str) -> RefreshToken | None:
        row = (
            await self.connection.execute(
                select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash)
            )
        ).first()
        if row is None:
            return None
        m = row._mapping
        return RefreshToken(
            token_hash=m["token_hash"],
            family_id=m["family_id"],
            issued_at=m["issued_at"],
            expires_at=m["expires_at"],
            used_at=m["used_at"],
        )

    async def use_token(self, token_hash: str, now: datetime) -> bool:
        """Mark a token used; ``True`` for the one caller that did so first.

        A single conditional ``UPDATE``: of two concurrent refreshes with one
        token, the database lets exactly one see an unused row.
        """
        result = await self.connection.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.token_hash == token_hash, refresh_tokens.c.used_at.is_(None))
            .values(used_at=now)
        )
        return result.rowcount == 1

    async def revoke(self, family_id: uuid.UUID, *, reason: str, now: datetime) -> None:
        """End a session (idempotent: the first reason is kept)."""
        await self.connection.execute(
            update(refresh_families)
            .where(refresh_families.c.id == family_id, refresh_families.c.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
        )

    async def revoke_all(self, account_id: uuid.UUID, *, reason: str, now: datetime) -> int:
        """End every open session of an account; returns how many were open."""
        result = await self.connection.execute(
            update(refresh_families)
            .where(
                refresh_families.c.account_id == account_id,
                refresh_families.c.revoked_at.is_(None),
            )
            .values(revoked_at=now, revoked_reason=reason)
        )
        return int(result.rowcount)


def _spend(insert: Any) -> Any:
    return (
        insert(spent_sign_ins)
        .values(
            state_hash=bindparam("state_hash"),
            expires_at=bindparam("expires_at", type_=spent_sign_ins.c.expires_at.type),
        )
        .on_conflict_do_nothing(index_elements=[spent_sign_ins.c.state_hash])
    )


# Built once per dialect. ON CONFLICT DO NOTHING, not a caught unique
# violation: the latter would abort a PostgreSQL transaction.
_SPEND = {"postgresql": _spend(postgresql.insert), "sqlite": _spend(sqlite.insert)}


class SqlSpentSignInRepository:
    """The states of finished sign-ins, until their attempt would have expired."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def is_spent(self, state_hash: str) -> bool:
        query = select(spent_sign_ins.c.state_hash).where(spent_sign_ins.c.state_hash == state_hash)
        return (await self.connection.execute(query)).first() is not None

    async def spend(self, state_hash: str, *, expires_at: datetime) -> bool:
        """Record the state: of two transactions spending one, one inserts, the other finds it."""
        result = await self.connection.execute(
            _SPEND[self.connection.dialect.name],
            {"state_hash": state_hash, "expires_at": expires_at},
        )
        return bool(result.rowcount == 1)

    async def purge_expired(self, now: datetime) -> int:
        result = await self.connection.execute(
            delete(spent_sign_ins).where(spent_sign_ins.c.expires_at <= now)
        )
        return int(result.rowcount)


class SqlAccountsUnitOfWork(ComponentUnitOfWork):
    """:class:`~acme.accounts.ports.AccountsUnitOfWork` on one of core's SQL units of work.

    The repositories share its connection; events go through the outbox in
    the same transaction.
    """

    @property
    def accounts(self) -> SqlAccountRepository:
        return SqlAccountRepository(self.connection)

    @property
    def sessions(self) -> SqlSessionRepository:
        return SqlSessionRepository(self.connection)

    @property
    def spent_sign_ins(self) -> SqlSpentSignInRepository:
        return SqlSpentSignInRepository(self.connection)
