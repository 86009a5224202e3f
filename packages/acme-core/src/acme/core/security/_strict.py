"""The strict JWS checks every token verification in acme goes through."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Protocol

import jwt
from jwt.exceptions import (
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAudienceError,
    InvalidIssuedAtError,
    InvalidIssuerError,
    InvalidSignatureError,
    MissingRequiredClaimError,
    PyJWTError,
)

from ._claims import StrictJWT
from .errors import InvalidToken
from .keys import ASYMMETRIC_ALGORITHMS, VerificationKey

__all__ = ["MAX_TOKEN_BYTES", "KeySource", "decode_strict"]

MAX_TOKEN_BYTES = 16 * 1024

# Reads the payload with acme's rules once the signature holds (see ._claims).
_JWT = StrictJWT()


class KeySource(Protocol):
    """Where verification keys come from: a local :class:`KeySet` or a remote JWKS."""

    async def key_for(self, kid: str) -> VerificationKey | None:
        """The key with this id, or ``None`` when it is not (or no longer) known."""
        ...


async def decode_strict(
    token: str,
    keys: KeySource,
    *,
    algorithms: Collection[str],
    issuer: str | None,
    audience: str | None,
    leeway: float,
    required: Sequence[str],
    token_type: str | None = None,
    type_optional: bool = False,
) -> dict[str, Any]:
    """Verify a compact JWS and its registered claims; return the claims.

    The algorithm is the key's own, and must be in ``algorithms``: the
    token's ``alg`` header only has to agree with it, so ``none``, HMAC
    with a public key and algorithm swaps fail before any cryptography.
    ``jku``, ``jwk`` and ``x5u`` headers are never read. The payload must
    name each claim once, and ``exp``, ``nbf`` and ``iat`` must be JSON
    numbers (not strings or booleans) between 0 and the year 9999 (see
    :func:`acme.core.security._claims.parse_claims`). ``token_type``,
    when given, must equal the ``typ`` header (case-insensitively, with or
    without the ``application/`` prefix, per RFC 8725 3.11); with
    ``type_optional`` a token without ``typ`` passes too (ID tokens).

    Raises:
        InvalidToken: naming the first check that failed.
    """
    if not token or len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
        raise InvalidToken("the token is not a compact JWS")
    try:
        header = jwt.get_unverified_header(token)
    except PyJWTError:
        raise InvalidToken("the token header cannot be read") from None
    alg = header.get("alg")
    allowed = set(algorithms) & ASYMMETRIC_ALGORITHMS
    if not isinstance(alg, str) or alg not in allowed:
        raise InvalidToken(f"the token algorithm {alg!r} is not accepted")
    typ = header.get("typ")
    if (
        token_type is not None
        and not (type_optional and typ is None)
        and _normal_type(typ) != _normal_type(token_type)
    ):
        raise InvalidToken(f"the token is not of type {token_type!r}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidToken("the token names no signing key ('kid')")
    key = await keys.key_for(kid)
    if key is None:
        raise InvalidToken("the token was signed by an unknown key")
    if key.algorithm != alg:
        raise InvalidToken(f"the key {kid!r} does not sign with {alg!r}")
    options: dict[str, Any] = {"require": list(required), "verify_aud": audience is not None}
    options["verify_iss"] = issuer is not None
    try:
        return _JWT.decode(
            token,
            key.key,
            algorithms=[key.algorithm],
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options=options,  # type: ignore[arg-type]
        )
    except PyJWTError as exc:
        raise _explain(exc) from None


_REASONS: tuple[tuple[type[PyJWTError], str], ...] = (
    (ExpiredSignatureError, "the token has expired"),
    (ImmatureSignatureError, "the token is not valid yet (nbf or iat in the future)"),
    (InvalidSignatureError, "the token signature is invalid"),
    (InvalidIssuerError, "the token issuer is not accepted"),
    (InvalidAudienceError, "the token audience is not accepted"),
    (InvalidIssuedAtError, "the token 'iat' claim is invalid"),
)


def _explain(exc: PyJWTError) -> InvalidToken:
    """The :class:`InvalidToken` saying which check a pyjwt error stands for."""
    if isinstance(exc, MissingRequiredClaimError):
        return InvalidToken(f"the token lacks the {exc.claim!r} claim")
    for kind, reason in _REASONS:
        if isinstance(exc, kind):
            code = "token_expired" if kind is ExpiredSignatureError else None
            return InvalidToken(reason, code=code)
    return InvalidToken(f"the token is invalid ({type(exc).__name__})")


def _normal_type(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    lowered = value.lower()
    return lowered.removeprefix("application/")
