"""A loopback OpenID provider stand-in for relying-party tests (no browser, no UI).

It speaks either the standard wire format or TrustNet's documented one
(JSON token request with ``grant_type: "code"``, ``iss: "trustnet.app"``,
``kid: "trustnet.oidc.key"``, ``token_type: "bearer"``, a 30-second
``expires_in``, null ``nonce``). ``/authorize`` signs in :attr:`persona`
at once and redirects back with a code. Tests can tamper with the next ID
token (:attr:`tamper`) to check that a relying party rejects it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import jwt

from acme.core.security.keys import KeySet, SigningKey, generate_key

__all__ = ["Grant", "StandInProvider"]

Tamper = Callable[[dict[str, Any], dict[str, Any], SigningKey], str]


@cache
def _default_key() -> SigningKey:
    """One RSA key per test process: key generation is the slow part of starting a provider."""
    return generate_key("RS256", rsa_key_size=2048)


@dataclass
class Grant:
    """One issued authorization code and what the token endpoint must check."""

    client_id: str
    redirect_uri: str
    nonce: str | None
    code_challenge: str | None
    subject: str


class StandInProvider:
    """Serve discovery, authorize, token, userinfo and JWKS on ``127.0.0.1``.

    Args:
        dialect: ``standard`` or ``trustnet``.
        client_id, client_secret: The one registered client.
        keys: Signing keys (a new RS256 key, ``kid`` ``trustnet.oidc.key``
            for TrustNet, by default).

    Use as a context manager; :attr:`issuer` is the base URL.
    """

    def __init__(
        self,
        *,
        dialect: Literal["standard", "trustnet"] = "standard",
        client_id: str = "acme",
        client_secret: str = "stand-in-secret",  # noqa: S107 - a test peer's fixed secret
        keys: KeySet | None = None,
    ) -> None:
        self.dialect = dialect
        self.client_id = client_id
        self.client_secret = client_secret
        if keys is None:
            key = _default_key()
            if dialect == "trustnet":
                key = SigningKey(
                    "trustnet.oidc.key",
                    key.algorithm,
                    key.key,
                    {**key.private_jwk, "kid": "trustnet.oidc.key"},
                )
            keys = KeySet([key])
        self.keys = keys
        self.persona = "persona-1"
        self.profile: dict[str, Any] = {"name": "Test Persona", "email": "persona@example.test"}
        self.tamper: Tamper | None = None
        self.userinfo_subject: str | None = None  # answer userinfo with another sub
        self.grants: dict[str, Grant] = {}
        self.access_tokens: dict[str, str] = {}
        self.token_requests: list[dict[str, Any]] = []
        self.jwks_requests = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def id_token_issuer(self) -> str:
        return "trustnet.app" if self.dialect == "trustnet" else self.issuer

    def __enter__(self) -> StandInProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def discovery(self) -> dict[str, Any]:
        base = self.issuer
        document = {
            "issuer": base,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "userinfo_endpoint": f"{base}/userinfo",
            "jwks_uri": f"{base}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }
        if self.dialect == "trustnet":
            document |= {
                "refresh_token": f"{base}/refresh",
                "user_socials_endpoint": f"{base}/user/socials",
                "user_reviews_endpoint": f"{base}/user/reviews",
                "user_trust_endpoint": f"{base}/user/trust",
            }
        return document

    def id_token_claims(self, grant: Grant) -> dict[str, Any]:
        now = int(time.time())
        return {
            "iss": self.id_token_issuer,
            "sub": grant.subject,
            "aud": grant.client_id,
            "iat": now,
            "exp": now + 300,
            "auth_time": now,
            "amr": ["pwd"],
            "nonce": None if self.dialect == "trustnet" else grant.nonce,
        }

    def sign(self, claims: dict[str, Any], headers: dict[str, Any], key: SigningKey) -> str:
        """Sign an ID token (tests use it inside :attr:`tamper`)."""
        return jwt.encode(claims, key.key, algorithm=key.algorithm, headers=headers)

    def _token_response(self, grant: Grant) -> dict[str, Any]:
        key = self.keys.signing_key
        claims = self.id_token_claims(grant)
        headers = {"kid": key.kid, "typ": "JWT"}
        if self.dialect == "standard" and claims["nonce"] is None:
            del claims["nonce"]  # TrustNet sends a null nonce; a standard provider omits it
        if self.tamper is not None:
            id_token = self.tamper(claims, headers, key)
        else:
            id_token = self.sign(claims, headers, key)
        access = secrets.token_urlsafe(24)
        self.access_tokens[access] = grant.subject
        return {
            "access_token": access,
            "id_token": id_token,
            "token_type": "bearer" if self.dialect == "trustnet" else "Bearer",
            "expires_in": 30 if self.dialect == "trustnet" else 3600,
            "refresh_token": secrets.token_urlsafe(24),
        }

    def _check_token_request(self, body: dict[str, Any], basic: tuple[str, str] | None) -> Grant:
        """The grant a token request may redeem, or ``ValueError(error code)``."""
        if self.dialect == "trustnet":
            expected_grant, client = "code", (body.get("client_id"), body.get("client_secret"))
        else:
            expected_grant = "authorization_code"
            client = basic or (body.get("client_id"), body.get("client_secret"))
        if client != (self.client_id, self.client_secret):
            raise ValueError("invalid_client")
        if body.get("grant_type") != expected_grant:
            raise ValueError("unsupported_grant_type")
        grant = self.grants.pop(str(body.get("code")), None)  # a code works once
        if grant is None or grant.redirect_uri != body.get("redirect_uri"):
            raise ValueError("invalid_grant")
        if grant.code_challenge is not None:
            verifier = str(body.get("code_verifier", ""))
            digest = hashlib.sha256(verifier.encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.code_challenge:
                raise ValueError("invalid_grant")
        return grant

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def _json(self, status: int, document: Any) -> None:
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/.well-known/openid-configuration":
                    self._json(200, provider.discovery())
                elif url.path == "/jwks":
                    provider.jwks_requests += 1
                    self._json(200, provider.keys.public_jwks())
                elif url.path == "/authorize":
                    self._authorize(query)
                elif url.path == "/userinfo":
                    token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    subject = provider.access_tokens.get(token)
                    if subject is None:
                        self._json(401, {"error": "invalid_token"})
                        return
                    sub = provider.userinfo_subject or subject
                    self._json(200, {"sub": sub, **provider.profile})
                else:
                    self._json(404, {"error": "not_found"})

            def _authorize(self, query: dict[str, str]) -> None:
                if query.get("client_id") != provider.client_id or "redirect_uri" not in query:
                    self._json(400, {"error": "invalid_request"})
                    return
                code = secrets.token_urlsafe(16)
                provider.grants[code] = Grant(
                    client_id=query["client_id"],
                    redirect_uri=query["redirect_uri"],
                    nonce=query.get("nonce"),
                    code_challenge=query.get("code_challenge"),
                    subject=provider.persona,
                )
                params = {"code": code}
                if "state" in query:
                    params["state"] = query["state"]
                self.send_response(302)
                self.send_header("Location", f"{query['redirect_uri']}?{urlencode(params)}")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                if urlsplit(self.path).path != "/token":
                    self._json(404, {"error": "not_found"})
                    return
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                kind = self.headers.get("Content-Type", "")
                try:
                    if provider.dialect == "trustnet":
                        if not kind.startswith("application/json"):
                            raise ValueError("invalid_request")
                        body = json.loads(raw)
                    else:
                        if not kind.startswith("application/x-www-form-urlencoded"):
                            raise ValueError("invalid_request")
                        body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                    provider.token_requests.append(dict(body))
                    grant = provider._check_token_request(body, self._basic())
                except ValueError as exc:
                    error = str(exc) if str(exc).isidentifier() else "invalid_request"
                    self._json(400, {"error": error})
                    return
                self._json(200, provider._token_response(grant))

            def _basic(self) -> tuple[str, str] | None:
                header = self.headers.get("Authorization", "")
                if not header.startswith("Basic "):
                    return None
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                return unquote(user), unquote(password)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
