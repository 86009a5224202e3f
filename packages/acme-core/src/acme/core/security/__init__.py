"""Security: the API's own JWTs (asymmetric keys, ``kid``, rotation, JWKS) and OpenID Connect.

- :mod:`.keys`: :class:`KeySet` (the first key signs, all verify), key generation, JWKS.
- :mod:`.tokens`: :class:`TokenIssuer` and :class:`TokenVerifier` (strict, cached).
- :mod:`.oidc`: the OpenID Connect relying-party port and its profiles.

The HTTP adapters (:mod:`acme.core.security.jwks` for a remote JWKS,
:mod:`acme.core.security.oidc.client` for a provider) are not re-exported:
only a composition root builds them.
"""

from __future__ import annotations

from ._strict import KeySource
from .errors import InvalidToken, bearer_challenge
from .keys import KeySet, SigningKey, VerificationKey, generate_key, thumbprint
from .tokens import ACCESS_TOKEN_TYPE, IssuedToken, TokenIssuer, TokenVerifier

__all__ = [
    "ACCESS_TOKEN_TYPE",
    "InvalidToken",
    "IssuedToken",
    "KeySet",
    "KeySource",
    "SigningKey",
    "TokenIssuer",
    "TokenVerifier",
    "VerificationKey",
    "bearer_challenge",
    "generate_key",
    "thumbprint",
]
