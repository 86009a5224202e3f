"""The browser's cookies: their names and attributes, and CSRF protection.

A signed-in browser holds three cookies: the access token (HttpOnly), the
refresh token (HttpOnly) and a CSRF token (readable by the page's script).
Cookie-authenticated unsafe requests must echo the CSRF token in the
``X-CSRF-Token`` header (double submit): another site can make the
browser send the cookies, but cannot read the CSRF cookie to copy it.

With secure cookies (production, or an https public URL) the names carry
the ``__Host-`` prefix: Secure, Path=/, no Domain, so neither another
subdomain nor plain HTTP can plant or read them.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request, Response

from acme.accounts.serializers import TokenPair
from acme.core.errors import PermissionDenied

from .settings import Settings

__all__ = [
    "CSRF_HEADER",
    "SAFE_METHODS",
    "CookieNames",
    "check_csrf",
    "clear_session",
    "set_session",
]

CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class CookieNames:
    """The session cookies' names and whether they are Secure."""

    secure: bool

    def _name(self, base: str) -> str:
        return f"__Host-{base}" if self.secure else base

    @property
    def access(self) -> str:
        return self._name("acme_session")

    @property
    def refresh(self) -> str:
        return self._name("acme_refresh")

    @property
    def csrf(self) -> str:
        return self._name("acme_csrf")

    @property
    def sign_in(self) -> str:
        return self._name("acme_signin")

    @classmethod
    def of(cls, settings: Settings) -> CookieNames:
        return cls(secure=settings.secure_cookies)


def _set(
    response: Response,
    names: CookieNames,
    name: str,
    value: str,
    *,
    max_age: int,
    http_only: bool = True,
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=names.secure,
        httponly=http_only,
        samesite="lax",
    )


def set_session(response: Response, names: CookieNames, tokens: TokenPair) -> str:
    """Put a token pair in the session cookies; returns the new CSRF token."""
    csrf = secrets.token_urlsafe(32)
    _set(response, names, names.access, tokens.access_token, max_age=tokens.expires_in)
    _set(response, names, names.refresh, tokens.refresh_token, max_age=tokens.refresh_expires_in)
    _set(response, names, names.csrf, csrf, max_age=tokens.refresh_expires_in, http_only=False)
    return csrf


def set_sign_in(response: Response, names: CookieNames, sealed: str, *, max_age: int) -> None:
    """Bind a starting sign-in to this browser: its attempt, sealed (opened by the callback)."""
    _set(response, names, names.sign_in, sealed, max_age=max_age)


def clear_session(response: Response, names: CookieNames) -> None:
    """Remove every session cookie."""
    for name in (names.access, names.refresh, names.csrf):
        response.delete_cookie(name, path="/", secure=names.secure, httponly=True, samesite="lax")


def check_csrf(request: Request, names: CookieNames) -> None:
    """Refuse a cookie-authenticated unsafe request without the matching CSRF header.

    Raises:
        PermissionDenied: the header is missing or differs from the cookie.
    """
    if request.method in SAFE_METHODS:
        return
    cookie = request.cookies.get(names.csrf, "")
    header = request.headers.get(CSRF_HEADER, "")
    if not cookie or not header or not hmac.compare_digest(cookie.encode(), header.encode()):
        raise PermissionDenied(
            f"a cookie-authenticated {request.method} needs the {CSRF_HEADER} header "
            "equal to the CSRF cookie",
            code="csrf_failed",
        )
