"""Session mechanics shared by the sign-in and refresh use cases."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime

from acme.core.persistence import SqlUnitOfWork

from .dependencies import AccountsDeps
from .models import Account, RefreshFamily, RefreshToken
from .repository import SessionRepository
from .serializers import TokenPair

__all__ = ["digest", "new_secret", "open_session", "rotate_into"]


def digest(secret: str) -> str:
    """The stored form of a high-entropy secret (refresh token, state): its SHA-256."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


async def open_session(
    deps: AccountsDeps, uow: SqlUnitOfWork, account: Account, now: datetime
) -> TokenPair:
    """Start a refresh-token family for ``account`` and return its first token pair."""
    family = RefreshFamily(
        id=uuid.uuid4(),
        account_id=account.id,
        created_at=now,
        expires_at=now + deps.policy.session_max_age,
    )
    sessions = SessionRepository(uow.connection)
    await sessions.add(family)
    return await rotate_into(deps, sessions, account, family, now)


async def rotate_into(
    deps: AccountsDeps,
    sessions: SessionRepository,
    account: Account,
    family: RefreshFamily,
    now: datetime,
) -> TokenPair:
    """Store a new refresh token in ``family`` and sign a matching access token."""
    refresh = new_secret()
    expires_at = min(now + deps.policy.refresh_token_ttl, family.expires_at)
    await sessions.add_token(
        RefreshToken(
            token_hash=digest(refresh),
            family_id=family.id,
            issued_at=now,
            expires_at=expires_at,
        )
    )
    access = deps.tokens.issue(str(account.id), claims={"sid": str(family.id)}, now=now)
    return TokenPair(
        access_token=access.token,
        expires_in=int((access.expires_at - now).total_seconds()),
        refresh_token=refresh,
        refresh_expires_in=max(0, int((expires_at - now).total_seconds())),
        session_id=family.id,
    )
