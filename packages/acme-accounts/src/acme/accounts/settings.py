"""The accounts settings: signing keys, the OpenID provider, token lifetimes (``ACME_*``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr, ValidationInfo

from acme.core.config import AcmeSettings, SecretSetting, https_in_production
from acme.core.errors import Invalid
from acme.core.security import KeySet

__all__ = ["AccountsSettings"]


def _required_in_production(value: object, info: ValidationInfo) -> object:
    if value is None and info.data.get("env") == "production":
        raise ValueError("required when ACME_ENV=production")
    return value


def _usable_keys(value: SecretStr | None) -> SecretStr | None:
    """Inline JWKS JSON is checked now; a secret name is resolved (and checked) at startup."""
    if value is not None and value.get_secret_value().lstrip().startswith("{"):
        try:
            KeySet.from_jwks(value.get_secret_value())
        except Invalid as exc:
            raise ValueError(exc.detail) from None
    return value


class AccountsSettings(AcmeSettings):
    """What the accounts component reads (see the README's settings table)."""

    jwt_keys: Annotated[
        SecretSetting | None,
        AfterValidator(_usable_keys),
        AfterValidator(_required_in_production),
    ] = Field(
        None,
        description=(
            "the API's signing keys: a private JWKS (first key signs) or the name of a "
            "secret holding one; development generates .acme/jwt-keys.json"
        ),
    )
    jwt_algorithm: Literal["ES256", "EdDSA", "RS256"] = Field(
        "ES256", description="algorithm of generated keys (acme-api keys generate, dev key)"
    )
    jwt_audience: str = Field("acme-api", min_length=1, description="aud of access tokens")
    access_token_ttl: int = Field(
        600, ge=30, le=3600, description="seconds an access token is accepted"
    )
    refresh_token_ttl: int = Field(
        14 * 86_400, ge=60, description="seconds an unused refresh token stays valid"
    )
    session_max_age: int = Field(
        30 * 86_400, ge=60, description="seconds a sign-in session lasts however often refreshed"
    )
    session_recheck_seconds: float = Field(
        5.0,
        ge=0,
        le=60,
        description=(
            "seconds a process reuses an account's status and session between database "
            "checks; 0 checks on every request"
        ),
    )
    sign_in_timeout: int = Field(
        600, ge=30, le=3600, description="seconds a person has to finish signing in"
    )
    oidc_profile: Literal["standard", "trustnet"] = Field(
        "trustnet", description="the provider's dialect"
    )
    oidc_issuer: Annotated[str, AfterValidator(https_in_production)] = Field(
        "https://auth.trustnet.app",
        description="the provider's issuer; https in production (loopback excepted)",
    )
    oidc_client_id: Annotated[str | None, AfterValidator(_required_in_production)] = Field(
        None, description="the client registration's id"
    )
    oidc_client_secret: Annotated[SecretSetting | None, AfterValidator(_required_in_production)] = (
        Field(None, description="the client registration's secret")
    )
    oidc_redirect_url: str | None = Field(
        None, description="the registered callback; default {ACME_PUBLIC_URL}/auth/callback"
    )
    oidc_scopes: str = Field("openid profile email", description="space-separated scopes")
    oidc_token_auth: Literal["client_secret_basic", "client_secret_post"] = Field(
        "client_secret_basic", description="how the client authenticates at the token endpoint"
    )
    # acme.core.security.jwks.DEFAULT_MIN_REFETCH_INTERVAL; the layering keeps
    # components off the adapter modules, so the value is repeated here.
    oidc_jwks_refetch_interval: float = Field(
        5.0,
        ge=0,
        description=(
            "least seconds between two JWKS fetches caused by unknown kids; after the "
            "provider rotates its key, sign-ins fail for at most this long"
        ),
    )
    oidc_timeout: float = Field(10.0, gt=0, description="seconds per request to the provider")

    @property
    def api_issuer(self) -> str:
        """The ``iss`` of the API's tokens: its public URL."""
        return self.public_url.rstrip("/")

    @property
    def oidc_redirect_uri(self) -> str:
        return self.oidc_redirect_url or f"{self.public_url.rstrip('/')}/auth/callback"
