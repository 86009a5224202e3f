"""Issuing and verifying JWTs with the keys of a :class:`KeySet` (or a remote JWKS).

Issued tokens carry ``kid`` and an explicit ``typ`` (``at+jwt`` for access
tokens, RFC 9068), so a token of one kind is never accepted as another.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import jwt

from ._strict import KeySource, decode_strict
from .keys import ASYMMETRIC_ALGORITHMS, KeySet

__all__ = ["ACCESS_TOKEN_TYPE", "IssuedToken", "TokenIssuer", "TokenVerifier"]

ACCESS_TOKEN_TYPE = "at+jwt"
_REGISTERED = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti"})


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A signed token and when it stops being accepted."""

    token: str
    expires_at: datetime
    jti: str


class TokenIssuer:
    """Signs tokens with the first key of a :class:`KeySet`.

    Args:
        keys: The key set; its first key signs.
        issuer: The ``iss`` claim (the API's public URL).
        audience: The ``aud`` claim.
        lifetime: How long a token is accepted.
        token_type: The ``typ`` header.
    """

    def __init__(
        self,
        keys: KeySet,
        *,
        issuer: str,
        audience: str,
        lifetime: timedelta,
        token_type: str = ACCESS_TOKEN_TYPE,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.lifetime = lifetime
        self.token_type = token_type

    def issue(
        self,
        subject: str,
        *,
        claims: Mapping[str, Any] | None = None,
        lifetime: timedelta | None = None,
        now: datetime | None = None,
    ) -> IssuedToken:
        """A signed token for ``subject`` with optional extra (non-registered) claims."""
        extra = dict(claims or {})
        clash = _REGISTERED & set(extra)
        if clash:
            raise ValueError(f"registered claims are set by the issuer: {sorted(clash)}")
        issued_at = now or datetime.now(UTC)
        expires_at = issued_at + (lifetime or self.lifetime)
        jti = secrets.token_urlsafe(16)
        stamp = int(issued_at.timestamp())
        payload = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.audience,
            "iat": stamp,
            "nbf": stamp,
            "exp": int(expires_at.timestamp()),
            "jti": jti,
            **extra,
        }
        key = self.keys.signing_key
        token = jwt.encode(
            payload,
            key.key,
            algorithm=key.algorithm,
            headers={"kid": key.kid, "typ": self.token_type},
        )
        return IssuedToken(token=token, expires_at=expires_at.replace(microsecond=0), jti=jti)


class TokenVerifier:
    """Verifies tokens strictly and remembers the good ones until they expire.

    Verification is on every request's path, so each verified token is kept
    (per process, at most ``cache_size`` of them) with its claims until its
    ``exp``; a repeat costs one dictionary lookup. Failures are not cached.

    Args:
        keys: Where keys come from: the API's :class:`KeySet`, or
            :class:`acme.core.security.jwks.RemoteJwks` in another service.
        issuer: The one accepted ``iss``.
        audience: The one accepted ``aud`` (a member of it, when a list).
        token_type: The required ``typ`` header.
        algorithms: The allow-list (asymmetric algorithms only).
        leeway: Seconds of clock skew tolerated on ``exp``, ``nbf`` and ``iat``.
        required: Claims that must be present.
        cache_size: How many verified tokens to remember (0: none).
        clock: Seconds since the epoch, for the cache's expiry (tests pass
            their own; the signature's ``exp`` check always uses real time).
    """

    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str,
        audience: str,
        token_type: str = ACCESS_TOKEN_TYPE,
        algorithms: Collection[str] = ("ES256", "EdDSA", "RS256"),
        leeway: float = 30.0,
        required: Sequence[str] = ("iss", "sub", "aud", "exp", "iat", "jti"),
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        unsupported = set(algorithms) - ASYMMETRIC_ALGORITHMS
        if unsupported:
            raise ValueError(f"only asymmetric algorithms verify tokens: {sorted(unsupported)}")
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.token_type = token_type
        self.algorithms = frozenset(algorithms)
        self.leeway = leeway
        self.required = tuple(required)
        self.cache_size = cache_size
        self._clock = clock
        self._cache: dict[str, tuple[Mapping[str, Any], float]] = {}

    async def verify(self, token: str) -> Mapping[str, Any]:
        """The claims of a valid token (read-only).

        Raises:
            InvalidToken: the token fails any check; ``detail`` names which
                (malformed, wrong ``alg``/``typ``/``kid``, bad signature,
                ``iss``/``aud`` not accepted, a claim missing, repeated or of
                the wrong type, expired or not yet valid).
            Unavailable: the keys come from a remote JWKS
                (:class:`~acme.core.security.jwks.RemoteJwks`) that has never
                been fetched successfully (the API answers 503, not 401).
        """
        now = self._clock()
        hit = self._cache.get(token)
        if hit is not None:
            claims, expires = hit
            if now < expires:
                return claims
            del self._cache[token]
        decoded = await decode_strict(
            token,
            self.keys,
            algorithms=self.algorithms,
            issuer=self.issuer,
            audience=self.audience,
            leeway=self.leeway,
            required=self.required,
            token_type=self.token_type,
        )
        claims = MappingProxyType(decoded)
        if self.cache_size:
            self._remember(token, claims, float(decoded["exp"]) + self.leeway, now)
        return claims

    def _remember(self, token: str, claims: Mapping[str, Any], expires: float, now: float) -> None:
        if len(self._cache) >= self.cache_size:
            for stale in [t for t, (_, e) in self._cache.items() if e <= now]:
                del self._cache[stale]
            while len(self._cache) >= self.cache_size:
                del self._cache[next(iter(self._cache))]  # the oldest entry
        self._cache[token] = (claims, expires)

    def forget(self) -> None:
        """Drop every remembered token (tests, or after removing a compromised key)."""
        self._cache.clear()
