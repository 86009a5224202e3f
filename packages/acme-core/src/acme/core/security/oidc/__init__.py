"""OpenID Connect: the relying-party port, its value types and the provider profiles.

The HTTP adapter is :class:`acme.core.security.oidc.client.OidcClient`
(not re-exported: only a composition root builds it).
"""

from __future__ import annotations

from ._port import (
    AuthorizationRequest,
    Identity,
    OpenIDProvider,
    SignInFailed,
    UnconfiguredProvider,
)
from .profiles import PROFILES, STANDARD, TRUSTNET, Profile

__all__ = [
    "PROFILES",
    "STANDARD",
    "TRUSTNET",
    "AuthorizationRequest",
    "Identity",
    "OpenIDProvider",
    "Profile",
    "SignInFailed",
    "UnconfiguredProvider",
]
