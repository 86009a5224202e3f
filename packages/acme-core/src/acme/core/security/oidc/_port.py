"""The OpenID Connect relying-party port and the values that cross it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from acme.core.errors import Malformed, Unavailable

__all__ = [
    "AuthorizationRequest",
    "Identity",
    "OpenIDProvider",
    "SignInFailed",
    "UnconfiguredProvider",
]


class SignInFailed(Malformed):
    """The provider's answer cannot complete a sign-in (refused code, provider error, ...).

    An ID token that fails validation raises
    :class:`acme.core.security.InvalidToken` instead (401).
    """

    default_code = "sign_in_failed"
    title = "Sign-in failed"


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A sign-in to start: send the browser to ``url``; keep the rest for the callback.

    ``state``, ``nonce`` and ``code_verifier`` are secrets of this one
    sign-in; store them server side (or in a signed, HttpOnly cookie).
    """

    url: str
    state: str
    nonce: str
    code_verifier: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who signed in: the validated ID token's claims, enriched from userinfo.

    ``issuer`` is the configured issuer (with ``subject`` the stable key of a
    person at that provider).
    """

    issuer: str
    subject: str
    claims: Mapping[str, Any]
    userinfo: Mapping[str, Any]

    @property
    def name(self) -> str | None:
        for source in (self.userinfo, self.claims):
            for key in ("name", "preferred_username", "nickname", "given_name"):
                value = source.get(key)
                if isinstance(value, str) and value.strip():
                    return value
        return None

    @property
    def email(self) -> str | None:
        for source in (self.userinfo, self.claims):
            value = source.get("email")
            if isinstance(value, str) and "@" in value:
                return value
        return None


class OpenIDProvider(Protocol):
    """An OpenID Provider as the accounts component needs it."""

    @property
    def issuer(self) -> str:
        """The configured issuer: accounts are keyed by (issuer, subject)."""
        ...

    async def authorization_request(self) -> AuthorizationRequest:
        """A new authorization URL with fresh ``state``, ``nonce`` and PKCE verifier.

        Raises:
            Unavailable: the provider's discovery document cannot be had.
        """
        ...

    async def complete(self, *, code: str, nonce: str, code_verifier: str) -> Identity:
        """Exchange ``code``, validate the ID token, read userinfo.

        Raises:
            SignInFailed: the provider refused the code or answered nonsense.
            InvalidToken: the ID token fails validation.
            Unavailable: the provider cannot be reached.
        """
        ...


class UnconfiguredProvider:
    """Stands in when no client registration is configured (development without a provider).

    Every sign-in fails with :class:`Unavailable` naming the missing settings;
    everything else in the API keeps working.
    """

    def __init__(self, issuer: str, missing: tuple[str, ...]) -> None:
        self._issuer = issuer
        self.missing = missing

    @property
    def issuer(self) -> str:
        return self._issuer

    def _refuse(self) -> Unavailable:
        return Unavailable(
            f"sign-in is not configured: set {' and '.join(self.missing)}",
            code="sign_in_not_configured",
        )

    async def authorization_request(self) -> AuthorizationRequest:
        raise self._refuse()

    async def complete(self, *, code: str, nonce: str, code_verifier: str) -> Identity:
        raise self._refuse()
