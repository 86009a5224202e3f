"""Provider dialects: the standard one, and TrustNet's documented deviations.

A profile decides only what the providers differ in: how the token request
is encoded and which grant type string it carries, which ``iss`` the ID
token must have, whether a nonce must come back, and how refresh works.
Signature, ``aud``, ``exp``, ``iat`` and the algorithm allow-list are
checked the same strict way for every profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["PROFILES", "STANDARD", "TRUSTNET", "Profile"]


@dataclass(frozen=True, slots=True)
class Profile:
    """How one kind of provider speaks OpenID Connect.

    Attributes:
        name: ``standard`` or ``trustnet``.
        token_request: ``form`` (RFC 6749) or ``json`` (TrustNet).
        grant_type: The authorization-code grant's name in the token request.
        client_auth_in_body: Send ``client_id``/``client_secret`` in the body
            whatever the configured method (TrustNet documents only that).
        id_token_issuer: The ``iss`` the ID token must carry; ``None`` means
            the configured issuer (the standard rule).
        pkce: Send a PKCE S256 challenge and verifier (TrustNet documents
            neither, and its token request has no field for the verifier).
        nonce_required: The ID token must echo the nonce (standard); when
            ``False`` an absent or null nonce is accepted, but a present one
            must still match.
        algorithms: The ID token signature algorithms accepted.
    """

    name: str
    token_request: Literal["form", "json"]
    grant_type: str
    client_auth_in_body: bool
    id_token_issuer: str | None
    pkce: bool
    nonce_required: bool
    algorithms: tuple[str, ...]


STANDARD = Profile(
    name="standard",
    token_request="form",
    grant_type="authorization_code",
    client_auth_in_body=False,
    id_token_issuer=None,
    pkce=True,
    nonce_required=True,
    algorithms=("RS256", "ES256", "EdDSA", "PS256", "ES384", "RS384", "RS512"),
)

TRUSTNET = Profile(
    name="trustnet",
    token_request="json",
    grant_type="code",
    client_auth_in_body=True,
    id_token_issuer="trustnet.app",
    pkce=False,
    nonce_required=False,
    algorithms=("RS256",),
)

PROFILES = {profile.name: profile for profile in (STANDARD, TRUSTNET)}
