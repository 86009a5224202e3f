"""The accounts use cases: the one entry point the API (or any caller) uses.

Each takes :class:`~acme.accounts.dependencies.AccountsDeps` and plain
values, runs in a unit of work, and raises :mod:`acme.core.errors` types.
"""

from __future__ import annotations

import hmac
import uuid
from copy import copy
from dataclasses import dataclass

from acme.core.errors import Conflict, Invalid, PermissionDenied
from acme.core.messaging import Outbox
from acme.core.security import InvalidToken, IssuedToken
from acme.core.security.oidc import Identity, SignInFailed

from ._sessions import digest, open_session, rotate_into
from .dependencies import AccountsDeps
from .events import account_created
from .models import LOCAL_ISSUER, Account, SignInAttempt
from .repository import AccountRepository, SessionRepository, SignInAttemptRepository
from .serializers import AccountOut, ProfileUpdate, SignInStart, TokenPair

__all__ = [
    "SignedIn",
    "authenticate",
    "begin_sign_in",
    "complete_sign_in",
    "disable_account",
    "get_my_account",
    "issue_local_token",
    "refresh",
    "sign_out",
    "update_my_profile",
]


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A finished sign-in: the API's tokens, the account, and where the person was going."""

    tokens: TokenPair
    account: AccountOut
    return_to: str


def _disabled() -> PermissionDenied:
    return PermissionDenied("the account is disabled", code="account_disabled")


async def authenticate(deps: AccountsDeps, access_token: str) -> Account:
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
            found = await AccountRepository(uow.connection).find_with_session(
                account_id, session_id
            )
        if found is None:
            raise InvalidToken("the account no longer exists")
        deps.status.put(account_id, session_id, found)
    account, session = found
    if not account.is_active:
        raise _disabled()
    if session_id is not None and (session is None or not session.usable(deps.clock())):
        raise InvalidToken("the session has ended; sign in again", code="session_ended")
    return copy(account)  # the memo's copy stays untouched by callers


async def get_my_account(deps: AccountsDeps, account_id: uuid.UUID) -> AccountOut:
    """The caller's own account. Raises ``NotFound``."""
    async with deps.unit_of_work() as uow:
        return AccountOut.of(await AccountRepository(uow.connection).get(account_id))


async def update_my_profile(
    deps: AccountsDeps, account_id: uuid.UUID, change: ProfileUpdate
) -> AccountOut:
    """Change the caller's display name."""
    async with deps.unit_of_work() as uow:
        repository = AccountRepository(uow.connection)
        account = await repository.get(account_id)
        if not account.is_active:
            raise _disabled()
        try:
            account.rename(change.display_name)
        except ValueError as exc:
            raise Invalid(str(exc), code="invalid_display_name") from None
        await repository.update(account)
        await uow.commit()
    return AccountOut.of(account)


async def disable_account(deps: AccountsDeps, account_id: uuid.UUID) -> AccountOut:
    """Disable an account and end all its sessions.

    Its access tokens stop working at once in this process, and within
    ``ACME_SESSION_RECHECK_SECONDS`` in every other.
    """
    async with deps.unit_of_work() as uow:
        repository = AccountRepository(uow.connection)
        account = await repository.get(account_id)
        account.disable()
        await repository.update(account)
        await SessionRepository(uow.connection).revoke_all(
            account.id, reason="account_disabled", now=deps.clock()
        )
        await uow.commit()
    deps.status.forget(account.id)
    return AccountOut.of(account)


async def _get_or_create(
    deps: AccountsDeps, *, issuer: str, subject: str, name: str | None, email: str | None
) -> tuple[Account, bool]:
    """Find the account of (issuer, subject) or create it with its ``account.created`` event.

    Two first sign-ins racing each other: the loser's insert conflicts, and
    it reads the winner's account instead.
    """
    now = deps.clock()
    for _ in range(2):
        async with deps.unit_of_work() as uow:
            repository = AccountRepository(uow.connection)
            account = await repository.find_by_identity(issuer, subject)
            if account is not None:
                return account, False
            account = Account.new(
                issuer=issuer, subject=subject, display_name=name or subject, email=email, now=now
            )
            try:
                await repository.add(account)
            except Conflict:
                continue
            await Outbox(uow.connection).add(account_created(account))
            await uow.commit()
            return account, True
    raise Conflict("the account is being created by another request; retry", code="account_race")


async def issue_local_token(deps: AccountsDeps, name: str) -> tuple[IssuedToken, AccountOut]:
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
    account, _ = await _get_or_create(
        deps, issuer=LOCAL_ISSUER, subject=subject, name=subject, email=None
    )
    if not account.is_active:
        raise _disabled()
    return deps.tokens.issue(str(account.id)), AccountOut.of(account)


async def begin_sign_in(deps: AccountsDeps, *, return_to: str = "/") -> SignInStart:
    """Start a sign-in: remember state, nonce and PKCE verifier; say where to send the browser."""
    if not return_to.startswith("/") or return_to.startswith("//") or "\\" in return_to:
        return_to = "/"  # only same-site paths: no open redirect
    request = await deps.provider.authorization_request()
    now = deps.clock()
    async with deps.unit_of_work() as uow:
        attempts = SignInAttemptRepository(uow.connection)
        await attempts.purge_expired(now)
        await attempts.add(
            SignInAttempt(
                state_hash=digest(request.state),
                nonce=request.nonce,
                code_verifier=request.code_verifier,
                return_to=return_to[:2048],
                created_at=now,
                expires_at=now + deps.policy.sign_in_timeout,
            )
        )
        await uow.commit()
    return SignInStart(
        authorization_url=request.url,
        state=request.state,
        expires_in=int(deps.policy.sign_in_timeout.total_seconds()),
    )


async def complete_sign_in(
    deps: AccountsDeps,
    *,
    state: str | None,
    bound_state: str | None,
    code: str | None,
    error: str | None = None,
    error_description: str | None = None,
    issuer: str | None = None,
) -> SignedIn:
    """Finish a sign-in from the provider's callback.

    ``bound_state`` is the state this browser was given at the start (its
    sign-in cookie); it must equal the callback's ``state``, and a state
    works once. ``issuer`` is the callback's ``iss`` parameter (RFC 9207),
    when the provider sends one: it must name the configured provider.

    Raises:
        SignInFailed: bad or reused state, a provider error, a refused code.
        InvalidToken: the provider's ID token is invalid.
        PermissionDenied: the account is disabled.
    """
    if not state:
        raise SignInFailed("the callback has no state", code="invalid_state")
    if not bound_state or not hmac.compare_digest(state.encode(), bound_state.encode()):
        raise SignInFailed(
            "the state does not belong to this browser's sign-in (start again)",
            code="invalid_state",
        )
    now = deps.clock()
    async with deps.unit_of_work() as uow:
        attempt = await SignInAttemptRepository(uow.connection).take(digest(state))
        await uow.commit()
    if attempt is None:
        raise SignInFailed("unknown or already used sign-in state", code="invalid_state")
    if attempt.expired(now):
        raise SignInFailed("the sign-in took too long; start again", code="sign_in_expired")
    if issuer is not None and issuer != deps.provider.issuer:
        raise SignInFailed("the callback comes from another issuer", code="issuer_mismatch")
    if error:
        detail = f"the provider refused the sign-in: {error[:100]}"
        if error_description:
            detail += f" ({error_description[:200]})"
        raise SignInFailed(detail, code="provider_error")
    if not code:
        raise SignInFailed("the callback has no authorization code", code="missing_code")
    identity: Identity = await deps.provider.complete(
        code=code, nonce=attempt.nonce, code_verifier=attempt.code_verifier
    )
    account, created = await _get_or_create(
        deps,
        issuer=identity.issuer,
        subject=identity.subject,
        name=identity.name,
        email=identity.email,
    )
    async with deps.unit_of_work() as uow:
        repository = AccountRepository(uow.connection)
        account = await repository.get(account.id)
        if not account.is_active:
            raise _disabled()
        if not created and identity.email and identity.email != account.email:
            account.email = identity.email
        account.record_sign_in(now)
        await repository.update(account)
        tokens = await open_session(deps, uow, account, now)
        await uow.commit()
    return SignedIn(tokens=tokens, account=AccountOut.of(account), return_to=attempt.return_to)


async def refresh(deps: AccountsDeps, refresh_token: str) -> TokenPair:
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
        sessions = SessionRepository(uow.connection)
        token = await sessions.find_token(token_hash)
        if token is None:
            raise InvalidToken("unknown refresh token")
        family = await sessions.get(token.family_id)
        if not await sessions.use_token(token_hash, now):
            await sessions.revoke(family.id, reason="refresh_token_reuse", now=now)
            await uow.commit()
            deps.status.forget(family.account_id)
            raise InvalidToken(
                "the refresh token was already used; the session has been ended",
                code="refresh_token_reused",
            )
        account = await AccountRepository(uow.connection).get(family.account_id)
        if not account.is_active:
            await sessions.revoke(family.id, reason="account_disabled", now=now)
            await uow.commit()
            deps.status.forget(family.account_id)
            raise _disabled()
        if not family.usable(now) or now >= token.expires_at:
            await uow.commit()
            raise InvalidToken("the session has ended; sign in again", code="session_ended")
        tokens = await rotate_into(deps, sessions, account, family, now)
        await uow.commit()
    return tokens


async def sign_out(
    deps: AccountsDeps, *, refresh_token: str | None = None, access_token: str | None = None
) -> None:
    """End a session, named by one of its refresh tokens or by a valid access token of it.

    Idempotent: an unknown or already ended session is not an error.

    Raises:
        InvalidToken: ``access_token`` is given and invalid.
    """
    session_id: uuid.UUID | None = None
    if access_token is not None:
        sid = (await deps.verifier.verify(access_token)).get("sid")
        try:
            session_id = uuid.UUID(str(sid)) if sid is not None else None
        except ValueError:
            raise InvalidToken("the token's session id is malformed") from None
    now = deps.clock()
    async with deps.unit_of_work() as uow:
        sessions = SessionRepository(uow.connection)
        ended: list[uuid.UUID] = []
        if refresh_token:
            token = await sessions.find_token(digest(refresh_token))
            if token is not None:
                await sessions.revoke(token.family_id, reason="signed_out", now=now)
                ended.append(token.family_id)
        if session_id is not None:
            await sessions.revoke(session_id, reason="signed_out", now=now)
            ended.append(session_id)
        await uow.commit()
    for ended_id in ended:
        deps.status.forget_session(ended_id)
