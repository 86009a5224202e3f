"""Sessions: authenticating a request, refreshing, signing out, and opening a session.

A session is a refresh-token family: each refresh replaces its token, and a
token presented twice ends the whole family.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from copy import copy
from datetime import UTC, datetime

from acme.core.errors import Conflict, PermissionDenied
from acme.core.security import InvalidToken

from .dependencies import AccountsDependencies
from .models import Account, RefreshFamily, RefreshToken
from .ports import AccountsUnitOfWork
from .serializers import TokenPair

__all__ = ["authenticate", "digest", "disabled", "open_session", "refresh", "sign_out"]


def digest(secret: str) -> str:
    """The stored form of a high-entropy secret (refresh token, state): its SHA-256."""
    return hashlib.sha256(secret.encode()).hexdigest()


def disabled() -> PermissionDenied:
    return PermissionDenied("the account is disabled", code="account_disabled")


async def authenticate(deps: AccountsDependencies, access_token: str) -> Account:
    """The active account an access token stands for.

    Raises:
        InvalidToken: the token is invalid or expired, its session has ended,
            or its account no longer exists.
        PermissionDenied: the account is disabled.
    """
    claims = await deps.verifier.verify(access_token)
    try:
        account_id = uuid.UUID(str(claims["sub"]))
        sid = claims.get("sid")
        session_id = uuid.UUID(str(sid)) if sid is not None else None
    except ValueError:
        raise InvalidToken("the token subject is not an account id") from None
    found = deps.status.get(account_id, session_id)
    if found is None:
        async with deps.read() as uow:  # one query, no transaction
            found = await uow.accounts.find_with_session(account_id, session_id)
        if found is None:
            raise InvalidToken("the account no longer exists")
        deps.status.put(account_id, session_id, found)
    account, session = found
    if not account.is_active:
        raise disabled()
    if session_id is not None and (session is None or not session.usable(deps.clock())):
        raise InvalidToken("the session has ended; sign in again", code="session_ended")
    return copy(account)  # the memo's copy stays untouched by callers


async def open_session(
    deps: AccountsDependencies, uow: AccountsUnitOfWork, account: Account, now: datetime
) -> TokenPair:
    """Start a session (refresh-token family) for ``account``; its first token pair."""
    family = RefreshFamily(
        id=uuid.uuid4(),
        account_id=account.id,
        created_at=now,
        expires_at=now + deps.policy.session_max_age,
    )
    await uow.sessions.add(family)
    return await _next_token_pair(deps, uow, account, family, now)


async def _next_token_pair(
    deps: AccountsDependencies,
    uow: AccountsUnitOfWork,
    account: Account,
    family: RefreshFamily,
    now: datetime,
) -> TokenPair:
    """Store the session's next refresh token and sign a matching access token."""
    refresh_token = secrets.token_urlsafe(32)
    expires_at = min(now + deps.policy.refresh_token_ttl, family.expires_at)
    await uow.sessions.add_token(
        RefreshToken(
            token_hash=digest(refresh_token),
            family_id=family.id,
            issued_at=now,
            expires_at=expires_at,
        )
    )
    access = deps.tokens.issue(str(account.id), claims={"sid": str(family.id)}, now=now)
    return TokenPair(
        access_token=access.token,
        expires_in=int((access.expires_at - now).total_seconds()),
        refresh_token=refresh_token,
        refresh_expires_in=max(0, int((expires_at - now).total_seconds())),
        session_id=family.id,
    )


async def refresh(deps: AccountsDependencies, refresh_token: str) -> TokenPair:
    """Rotate a refresh token: the old one stops working, a new pair is returned.

    Presenting a token that was already used is taken as theft: the whole
    session (family) is revoked. Of two concurrent refreshes with one token,
    exactly one succeeds.

    Raises:
        InvalidToken: unknown, used, expired or revoked.
        PermissionDenied: the account is disabled.
    """
    now = deps.clock()
    token_hash = digest(refresh_token)
    async with deps.unit_of_work() as uow:
        token = await uow.sessions.find_token(token_hash)
        if token is None:
            raise InvalidToken("unknown refresh token")
        family = await uow.sessions.get(token.family_id)
        if not await uow.sessions.use_token(token_hash, now):
            await uow.sessions.revoke(family.id, reason="refresh_token_reuse", now=now)
            await uow.commit()
            deps.status.forget(family.account_id)
            raise InvalidToken(
                "the refresh token was already used; the session has been ended",
                code="refresh_token_reused",
            )
        account = await uow.accounts.get(family.account_id)
        if not account.is_active:
            await uow.sessions.revoke(family.id, reason="account_disabled", now=now)
            await uow.commit()
            deps.status.forget(family.account_id)
            raise disabled()
        if not family.usable(now) or now >= token.expires_at:
            await uow.commit()
            raise InvalidToken("the session has ended; sign in again", code="session_ended")
        tokens = await _next_token_pair(deps, uow, account, family, now)
        await uow.commit()
    return tokens


async def sign_out(
    deps: AccountsDependencies,
    *,
    refresh_token: str | None = None,
    access_token: str | None = None,
) -> None:
    """End a session, named by one of its refresh tokens or by a valid access token of it.

    Idempotent: an unknown or already ended session is not an error. An
    access token of no session (a local account's, from
    :func:`~acme.accounts.interface.issue_local_token`) cannot be revoked:
    that is refused rather than answered as if it had been.

    Raises:
        InvalidToken: ``access_token`` is given and invalid.
        Conflict: ``access_token`` belongs to no session (code
            ``token_not_revocable``; ``extra["expires_at"]`` is its ``exp``,
            RFC 3339).
    """
    session_id: uuid.UUID | None = None
    if access_token is not None:
        claims = await deps.verifier.verify(access_token)
        sid = claims.get("sid")
        if sid is None:
            raise _not_revocable(int(claims["exp"]))
        try:
            session_id = uuid.UUID(str(sid))
        except ValueError:
            raise InvalidToken("the token's session id is malformed") from None
    now = deps.clock()
    async with deps.unit_of_work() as uow:
        ended: list[uuid.UUID] = []
        if refresh_token:
            token = await uow.sessions.find_token(digest(refresh_token))
            if token is not None:
                await uow.sessions.revoke(token.family_id, reason="signed_out", now=now)
                ended.append(token.family_id)
        if session_id is not None:
            await uow.sessions.revoke(session_id, reason="signed_out", now=now)
            ended.append(session_id)
        await uow.commit()
    for ended_id in ended:
        deps.status.forget_session(ended_id)


def _not_revocable(exp: int) -> Conflict:
    expires_at = datetime.fromtimestamp(exp, UTC).isoformat().replace("+00:00", "Z")
    return Conflict(
        "this access token belongs to no sign-in session (a local account's token), so "
        f"signing out cannot revoke it: it is accepted until it expires at {expires_at}; "
        "disabling the account stops it sooner",
        code="token_not_revocable",
        extra={"expires_at": expires_at},
    )
