"""Signing in: through the OpenID provider, or as a local account in development.

Starting a provider sign-in writes nothing: the attempt (state hash, nonce,
PKCE verifier, return path) is sealed for the caller to keep in the
browser's cookie (:mod:`._sealed_attempts`), so unauthenticated requests
cannot grow the database. The callback opens it, asks the provider outside
any transaction (no pooled connection waits on its HTTP round trip), then
does the rest in one transaction: spend the state (a state signs in once),
find or create the account with its ``account.created`` event, record the
sign-in, open the session. Only that successful sign-in writes the spent
state, kept until the attempt would have expired anyway.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from urllib.parse import quote

from acme.core.errors import Conflict, Invalid, PermissionDenied
from acme.core.security import IssuedToken
from acme.core.security.oidc import Identity, SignInFailed

from ._sealed_attempts import open_attempt, seal_attempt
from ._sessions import digest, disabled, open_session
from .dependencies import AccountsDependencies
from .events import account_created
from .models import LOCAL_ISSUER, Account, SignInAttempt
from .ports import AccountsUnitOfWork
from .serializers import AccountOut, SignInStart, TokenPair

__all__ = ["SignedIn", "begin_sign_in", "complete_sign_in", "issue_local_token"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A finished sign-in: the API's tokens, the account, and where the person was going."""

    tokens: TokenPair
    account: AccountOut
    return_to: str


class _Race(Exception):
    """Another request created the same account first: run the transaction again."""


async def _find_or_create(
    uow: AccountsUnitOfWork,
    *,
    identity: tuple[str, str],
    name: str | None,
    email: str | None,
    now: datetime,
) -> tuple[Account, bool]:
    """The account of (issuer, subject), created with its ``account.created`` event."""
    issuer, subject = identity
    account = await uow.accounts.find_by_identity(issuer, subject)
    if account is not None:
        return account, False
    account = Account.new(
        issuer=issuer, subject=subject, display_name=name or subject, email=email, now=now
    )
    try:
        await uow.accounts.add(account)
    except Conflict:
        raise _Race from None
    await uow.publish(account_created(account))
    return account, True


async def _racing(
    deps: AccountsDependencies,
    work: Callable[[AccountsUnitOfWork, datetime], Awaitable[T]],
) -> T:
    """``work`` in one transaction, committed; run once more after a creation race.

    Two first sign-ins of one person racing each other: the loser's insert
    conflicts, its transaction rolls back, and the second run finds the
    winner's account. Each run takes a fresh time.
    """
    for attempt in range(2):
        try:
            async with deps.unit_of_work() as uow:
                result = await work(uow, deps.clock())
                await uow.commit()
                return result
        except _Race:
            if attempt:
                break
    raise Conflict("the account is being created by another request; retry", code="account_race")


async def _sign_in(
    deps: AccountsDependencies, identity: Identity, attempt: SignInAttempt
) -> tuple[Account, TokenPair]:
    """Spend the attempt, find or create the account, record the sign-in, open a session.

    One transaction: of two callbacks carrying one attempt, one spends it
    and signs in, the other is refused and writes nothing. The sign-in is
    stamped by a guarded update, so an account disabled meanwhile is
    refused, never written back as active.
    """

    async def work(uow: AccountsUnitOfWork, now: datetime) -> tuple[Account, TokenPair]:
        await uow.spent_sign_ins.purge_expired(now)
        if not await uow.spent_sign_ins.spend(attempt.state_hash, expires_at=attempt.expires_at):
            raise _used()
        account, created = await _find_or_create(
            uow,
            identity=(identity.issuer, identity.subject),
            name=identity.name,
            email=identity.email,
            now=now,
        )
        email = identity.email
        if created or not email or email == account.email:
            email = None  # contact data follows the provider, when it changed
        if not await uow.accounts.record_sign_in(account.id, now=now, email=email):
            raise disabled()
        account.record_sign_in(now)
        if email is not None:
            account.email = email
        return account, await open_session(deps, uow, account, now)

    return await _racing(deps, work)


async def issue_local_token(
    deps: AccountsDependencies, name: str
) -> tuple[IssuedToken, AccountOut]:
    """An access token for the local account ``name``, created when missing (development only).

    Raises:
        PermissionDenied: local accounts are not allowed here (production), or
            the account is disabled.
    """
    if not deps.allow_local_accounts:
        raise PermissionDenied(
            "local accounts and their tokens are refused when ACME_ENV=production",
            code="local_accounts_disabled",
        )
    subject = name.strip()
    if not subject or len(subject) > 255:
        raise Invalid("the account name must have 1 to 255 characters", code="invalid_name")
    account = await _local_account(deps, subject)
    if not account.is_active:
        raise disabled()
    return deps.tokens.issue(str(account.id)), AccountOut.of(account)


async def _local_account(deps: AccountsDependencies, subject: str) -> Account:
    """The local account ``subject``, created when missing."""

    async def work(uow: AccountsUnitOfWork, now: datetime) -> Account:
        identity = (LOCAL_ISSUER, subject)
        account, _ = await _find_or_create(
            uow, identity=identity, name=subject, email=None, now=now
        )
        return account

    return await _racing(deps, work)


_MAX_RETURN_TO = 2048


def _same_site_path(return_to: str) -> str:
    """``return_to`` as a same-site path, percent-encoded (ASCII, cookie-safe); else ``/``."""
    if not return_to.startswith("/") or return_to.startswith("//") or "\\" in return_to:
        return "/"  # only same-site paths: no open redirect
    path = quote(return_to, safe="/?#[]@!$&'()*+,;=:%-._~")
    return path if len(path) <= _MAX_RETURN_TO else "/"


async def begin_sign_in(deps: AccountsDependencies, *, return_to: str = "/") -> SignInStart:
    """Start a sign-in: say where to send the browser, and what the browser must keep.

    Writes nothing: state (its hash), nonce, PKCE verifier and the return
    path are sealed into ``SignInStart.bound_state``, which the caller keeps
    with this browser only (an HttpOnly cookie) and hands back to
    :func:`complete_sign_in`. An unusable ``return_to`` (not a same-site
    path, or longer than 2048 characters once percent-encoded) becomes ``/``.
    """
    return_to = _same_site_path(return_to)
    request = await deps.provider.authorization_request()
    now = deps.clock()
    attempt = SignInAttempt(
        state_hash=digest(request.state),
        nonce=request.nonce,
        code_verifier=request.code_verifier,
        return_to=return_to,
        created_at=now,
        expires_at=now + deps.policy.sign_in_timeout,
    )
    return SignInStart(
        authorization_url=request.url,
        state=request.state,
        expires_in=int(deps.policy.sign_in_timeout.total_seconds()),
        bound_state=seal_attempt(deps.tokens.keys, attempt),
    )


def _used() -> SignInFailed:
    return SignInFailed("unknown or already used sign-in state", code="invalid_state")


async def _open_attempt(
    deps: AccountsDependencies, state: str | None, bound_state: str | None
) -> SignInAttempt:
    """The attempt this browser carries, if it is the one ``state`` names and still unused."""
    if not state:
        raise SignInFailed("the callback has no state", code="invalid_state")
    attempt = open_attempt(deps.tokens.keys, bound_state or "")
    if attempt is None or not hmac.compare_digest(
        digest(state).encode(), attempt.state_hash.encode()
    ):
        raise SignInFailed(
            "the state does not belong to this browser's sign-in (start again)",
            code="invalid_state",
        )
    if attempt.expired(deps.clock()):
        raise SignInFailed("the sign-in took too long; start again", code="sign_in_expired")
    async with deps.read() as uow:  # spares the provider a replay; the spend decides
        if await uow.spent_sign_ins.is_spent(attempt.state_hash):
            raise _used()
    return attempt


async def complete_sign_in(
    deps: AccountsDependencies,
    *,
    state: str | None,
    bound_state: str | None,
    code: str | None,
    error: str | None = None,
    error_description: str | None = None,
    issuer: str | None = None,
) -> SignedIn:
    """Finish a sign-in from the provider's callback.

    ``bound_state`` is what this browser kept from the start
    (``SignInStart.bound_state``, its sign-in cookie): it must be an attempt
    this API sealed for the callback's ``state``, unexpired, and a state
    signs in once. ``issuer`` is the callback's ``iss`` parameter (RFC 9207),
    when the provider sends one: it must name the configured provider.

    Raises:
        SignInFailed: bad or reused state, a provider error, a refused code.
        InvalidToken: the provider's ID token is invalid.
        PermissionDenied: the account is disabled.
    """
    attempt = await _open_attempt(deps, state, bound_state)
    if issuer is not None and issuer != deps.provider.issuer:
        raise SignInFailed("the callback comes from another issuer", code="issuer_mismatch")
    if error:
        detail = f"the provider refused the sign-in: {error[:100]}"
        if error_description:
            detail += f" ({error_description[:200]})"
        raise SignInFailed(detail, code="provider_error")
    if not code:
        raise SignInFailed("the callback has no authorization code", code="missing_code")
    identity = await deps.provider.complete(
        code=code, nonce=attempt.nonce, code_verifier=attempt.code_verifier
    )
    account, tokens = await _sign_in(deps, identity, attempt)
    return SignedIn(tokens=tokens, account=AccountOut.of(account), return_to=attempt.return_to)
