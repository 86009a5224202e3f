"""The HTTP (httpx) adapter of the :class:`OpenIDProvider` port: a relying-party client."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote, urlencode

import httpx

from acme.core.errors import Unavailable
from acme.core.security._strict import decode_strict
from acme.core.security.errors import InvalidToken
from acme.core.security.jwks import DEFAULT_MIN_REFETCH_INTERVAL, RemoteJwks

from ._http import get_json, json_or_none, token_response
from ._port import AuthorizationRequest, Identity, SignInFailed
from .profiles import STANDARD, Profile

__all__ = ["OidcClient", "pkce_challenge"]

_REQUIRED_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri")


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a PKCE verifier (RFC 7636 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OidcClient:
    """A confidential relying party of one OpenID provider.

    Discovery is fetched once and cached for ``discovery_ttl``; its
    ``issuer`` must equal the configured one. Keys come from the provider's
    JWKS through :class:`~acme.core.security.jwks.RemoteJwks` (refetched on
    an unknown ``kid`` at most once per ``jwks_refetch_interval``).

    Args:
        http: The HTTP client (owned by the caller; closed at shutdown).
        issuer: The configured issuer URL.
        client_id: The client registration.
        client_secret: Its secret.
        redirect_uri: The callback registered at the provider.
        scopes: Requested scopes (``openid`` is added when missing).
        profile: The provider's dialect (:data:`STANDARD` or :data:`TRUSTNET`).
        token_auth: ``client_secret_basic`` or ``client_secret_post``.
        jwks_refetch_interval: Least seconds between two JWKS fetches caused
            by unknown kids (a few seconds: a rotated provider key is picked
            up that fast, while made-up kids cost one fetch per interval).
        leeway: Seconds of clock skew tolerated on ID token times.
        clock: Monotonic seconds, for the caches of discovery and keys (tests
            pass their own instead of sleeping).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        issuer: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        scopes: Sequence[str] = ("openid", "profile", "email"),
        profile: Profile = STANDARD,
        token_auth: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic",
        jwks_refetch_interval: float = DEFAULT_MIN_REFETCH_INTERVAL,
        discovery_ttl: float = 3600.0,
        leeway: float = 60.0,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._clock = clock
        self._issuer = issuer
        self.client_id = client_id
        self._client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.scopes = tuple(dict.fromkeys(["openid", *scopes]))
        self.profile = profile
        self.token_auth = token_auth
        self.jwks_refetch_interval = jwks_refetch_interval
        self.discovery_ttl = discovery_ttl
        self.leeway = leeway
        self.timeout = timeout
        self._discovery: dict[str, Any] | None = None
        self._discovered_at = 0.0
        self._jwks: RemoteJwks | None = None
        self._lock = asyncio.Lock()

    @property
    def issuer(self) -> str:
        return self._issuer

    @property
    def jwks(self) -> RemoteJwks | None:
        """The provider's key cache, once discovery has run."""
        return self._jwks

    async def discovery(self) -> Mapping[str, Any]:
        """The provider's discovery document (cached).

        Raises:
            Unavailable: it cannot be fetched, is not JSON, names another
                issuer or lacks a required endpoint.
        """
        async with self._lock:
            fresh = self._clock() - self._discovered_at < self.discovery_ttl
            if self._discovery is not None and fresh:
                return self._discovery
            url = self._issuer.rstrip("/") + "/.well-known/openid-configuration"
            document = await self._get_json(url, what="discovery document")
            if document.get("issuer") != self._issuer:
                raise Unavailable(
                    f"the discovery document names issuer {document.get('issuer')!r}, "
                    f"not the configured {self._issuer!r}",
                    code="oidc_misconfigured",
                )
            missing = [k for k in _REQUIRED_ENDPOINTS if not isinstance(document.get(k), str)]
            if missing:
                raise Unavailable(
                    f"the discovery document lacks {', '.join(missing)}", code="oidc_misconfigured"
                )
            if self._jwks is None or self._jwks.url != document["jwks_uri"]:
                self._jwks = RemoteJwks(
                    self._http,
                    document["jwks_uri"],
                    min_refetch_interval=self.jwks_refetch_interval,
                    timeout=self.timeout,
                    clock=self._clock,
                )
            self._discovery, self._discovered_at = document, self._clock()
            return document

    async def authorization_request(self) -> AuthorizationRequest:
        document = await self.discovery()
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43..128
        params = {
            "client_id": self.client_id,
            "response_type": "code",
            "redirect_uri": self.redirect_uri,
            "scope": " ".join(self.scopes),
            "state": state,
            "nonce": nonce,
        }
        if self.profile.pkce:
            params |= {"code_challenge": pkce_challenge(verifier), "code_challenge_method": "S256"}
        endpoint = str(document["authorization_endpoint"])
        separator = "&" if "?" in endpoint else "?"
        url = endpoint + separator + urlencode(params, quote_via=quote)
        return AuthorizationRequest(url=url, state=state, nonce=nonce, code_verifier=verifier)

    async def complete(self, *, code: str, nonce: str, code_verifier: str) -> Identity:
        # One look at the discovery document for the whole exchange.
        document = await self.discovery()
        tokens = await self.exchange(code=code, code_verifier=code_verifier, document=document)
        claims = await self.validate_id_token(tokens["id_token"], nonce=nonce, document=document)
        userinfo: Mapping[str, Any] = {}
        if isinstance(document.get("userinfo_endpoint"), str):
            userinfo = await self.userinfo(
                tokens["access_token"], subject=str(claims["sub"]), document=document
            )
        return Identity(
            issuer=self._issuer, subject=str(claims["sub"]), claims=claims, userinfo=userinfo
        )

    async def exchange(
        self, *, code: str, code_verifier: str, document: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Trade an authorization code for the provider's tokens.

        Raises:
            SignInFailed: the provider refused the code or answered without
                an ID token.
        """
        document = document or await self.discovery()
        body: dict[str, str] = {
            "grant_type": self.profile.grant_type,
            "code": code,
            "redirect_uri": self.redirect_uri,
        }
        if self.profile.pkce:
            body["code_verifier"] = code_verifier
        request: dict[str, Any] = {}
        if self.profile.client_auth_in_body or self.token_auth == "client_secret_post":
            body |= {"client_id": self.client_id, "client_secret": self._client_secret}
        else:
            # RFC 6749 2.3.1: both parts form-urlencoded before Basic encoding.
            request["auth"] = httpx.BasicAuth(
                quote(self.client_id, safe=""), quote(self._client_secret, safe="")
            )
        request["json" if self.profile.token_request == "json" else "data"] = body
        try:
            response = await self._http.post(
                str(document["token_endpoint"]),
                headers={"Accept": "application/json"},
                timeout=self.timeout,
                **request,
            )
        except httpx.HTTPError as exc:
            raise Unavailable(
                f"the provider's token endpoint cannot be reached ({type(exc).__name__})",
                code="provider_unavailable",
            ) from exc
        return token_response(response)

    async def validate_id_token(
        self, id_token: str, *, nonce: str, document: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Validate an ID token per OpenID Connect Core 3.1.3.7 and this profile.

        ``document``: the discovery document already resolved (its keys are
        then current); otherwise it is resolved here.

        Raises:
            InvalidToken: naming the check that failed.
        """
        if document is None:
            await self.discovery()
        assert self._jwks is not None
        claims = await decode_strict(
            id_token,
            self._jwks,
            algorithms=self.profile.algorithms,
            issuer=self.profile.id_token_issuer or self._issuer,
            audience=self.client_id,
            leeway=self.leeway,
            required=("iss", "sub", "aud", "exp", "iat"),
            token_type="JWT",
            type_optional=True,
        )
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        azp = claims.get("azp")
        if (len(audiences) > 1 and azp is None) or (azp is not None and azp != self.client_id):
            raise InvalidToken("the ID token's authorized party (azp) is not this client")
        if not isinstance(claims["sub"], str) or not claims["sub"]:
            raise InvalidToken("the ID token's subject is empty")
        echoed = claims.get("nonce")
        if echoed is None and not self.profile.nonce_required:
            return claims
        if not isinstance(echoed, str) or not hmac.compare_digest(echoed.encode(), nonce.encode()):
            raise InvalidToken("the ID token's nonce does not match this sign-in")
        return claims

    async def userinfo(
        self, access_token: str, *, subject: str, document: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The userinfo claims; their ``sub`` must equal the ID token's.

        Raises:
            InvalidToken: another subject; SignInFailed: unreadable answer.
        """
        document = document or await self.discovery()
        try:
            response = await self._http.get(
                str(document["userinfo_endpoint"]),
                headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
                timeout=self.timeout,
            )
        except httpx.HTTPError as exc:
            raise Unavailable(
                f"the provider's userinfo endpoint cannot be reached ({type(exc).__name__})",
                code="provider_unavailable",
            ) from exc
        payload = json_or_none(response)
        if response.status_code != 200 or payload is None:
            raise SignInFailed(
                f"the provider's userinfo endpoint answered {response.status_code}",
                code="userinfo_failed",
            )
        if payload.get("sub") != subject:
            raise InvalidToken("the userinfo subject differs from the ID token's")
        return payload

    async def _get_json(self, url: str, *, what: str) -> dict[str, Any]:
        return await get_json(self._http, url, what=what, request_timeout=self.timeout)
