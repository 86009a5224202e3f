"""Verifying the API's tokens from its JWKS URL with acme-core alone, over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from acme.core.errors import Unavailable
from acme.core.security import InvalidToken, KeySet, TokenIssuer, TokenVerifier, generate_key
from acme.core.security.jwks import RemoteJwks


class JwksServer:
    """A loopback HTTP server publishing a JWKS that a test can swap or break."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.failing = False
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                if outer.failing:
                    self.send_error(503)
                    return
                body = json.dumps(outer.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> JwksServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server() -> Iterator[JwksServer]:
    with JwksServer() as running:
        yield running


def _issuer(keys: KeySet) -> TokenIssuer:
    return TokenIssuer(
        keys, issuer="https://api.test", audience="acme-api", lifetime=timedelta(minutes=5)
    )


async def test_another_service_verifies_tokens_from_the_jwks_url(server: JwksServer) -> None:
    keys = KeySet.generate()
    server.document = keys.public_jwks()
    async with httpx.AsyncClient() as http:
        remote = RemoteJwks(http, server.url)
        verifier = TokenVerifier(remote, issuer="https://api.test", audience="acme-api")
        claims = await verifier.verify(_issuer(keys).issue("account-1").token)
    assert claims["sub"] == "account-1"
    assert server.requests == 1


async def test_a_new_kid_costs_one_refetch_and_a_flood_of_random_kids_no_more(
    server: JwksServer,
) -> None:
    old = KeySet.generate()
    server.document = old.public_jwks()
    async with httpx.AsyncClient() as http:
        now = [1000.0]
        remote = RemoteJwks(http, server.url, min_refetch_interval=0.5, clock=lambda: now[0])
        verifier = TokenVerifier(remote, issuer="https://api.test", audience="acme-api")
        await verifier.verify(_issuer(old).issue("a").token)
        rotated = old.rotated(generate_key())
        server.document = rotated.public_jwks()
        now[0] += 0.6  # past the refetch interval, without waiting for it
        assert (await verifier.verify(_issuer(rotated).issue("b").token))["sub"] == "b"
        assert server.requests == 2  # first fetch + one refetch for the new kid

        remote.min_refetch_interval = 30  # the flood fits in one interval, however slow
        before = server.requests
        lookups = [remote.key_for(secrets.token_hex(8)) for _ in range(200)]
        assert await asyncio.gather(*lookups) == [None] * 200
        assert server.requests - before <= 1  # at most one refetch in the interval


async def test_keys_are_kept_when_a_refetch_fails(server: JwksServer) -> None:
    keys = KeySet.generate()
    server.document = keys.public_jwks()
    async with httpx.AsyncClient() as http:
        remote = RemoteJwks(http, server.url, min_refetch_interval=0)
        verifier = TokenVerifier(
            remote, issuer="https://api.test", audience="acme-api", cache_size=0
        )
        token = _issuer(keys).issue("a").token
        await verifier.verify(token)
        server.failing = True
        assert await remote.key_for("unknown") is None  # the refetch failed...
        assert (await verifier.verify(token))["sub"] == "a"  # ...the known keys still work
        with pytest.raises(InvalidToken, match="unknown key"):
            await verifier.verify(_issuer(KeySet.generate()).issue("x").token)


async def test_an_unreachable_jwks_is_unavailable_not_invalid() -> None:
    async with httpx.AsyncClient() as http:
        remote = RemoteJwks(http, "http://127.0.0.1:9/jwks.json", timeout=1)
        with pytest.raises(Unavailable, match="unavailable"):
            await remote.key_for("k")
