"""The OpenID Connect client against a loopback provider: both profiles and the rejection matrix."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from acme.core.errors import Unavailable
from acme.core.security import InvalidToken, KeySet, SigningKey, generate_key
from acme.core.security.jwks import DEFAULT_MIN_REFETCH_INTERVAL
from acme.core.security.oidc import STANDARD, TRUSTNET, SignInFailed
from acme.core.security.oidc.client import OidcClient, pkce_challenge
from acme.core.testing.oidc import StandInProvider

REDIRECT = "https://app.test/auth/callback"


@pytest.fixture(params=["standard", "trustnet"])
def provider(request: pytest.FixtureRequest) -> Iterator[StandInProvider]:
    with StandInProvider(dialect=request.param) as running:
        yield running


@pytest.fixture
def standard() -> Iterator[StandInProvider]:
    with StandInProvider(dialect="standard") as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


class ManualMonotonic:
    """A monotonic clock a test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def client_for(provider: StandInProvider, http: httpx.AsyncClient, **options: Any) -> OidcClient:
    return OidcClient(
        http,
        issuer=provider.issuer,
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        redirect_uri=REDIRECT,
        profile=TRUSTNET if provider.dialect == "trustnet" else STANDARD,
        **options,
    )


async def authorize(client: OidcClient, http: httpx.AsyncClient) -> tuple[str, str, str]:
    """Start a sign-in and let the stand-in answer; return (code, nonce, verifier)."""
    request = await client.authorization_request()
    response = await http.get(request.url)
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["state"] == [request.state]
    return query["code"][0], request.nonce, request.code_verifier


async def test_a_sign_in_yields_the_identity(
    provider: StandInProvider, http: httpx.AsyncClient
) -> None:
    client = client_for(provider, http)
    code, nonce, verifier = await authorize(client, http)
    identity = await client.complete(code=code, nonce=nonce, code_verifier=verifier)
    assert (identity.issuer, identity.subject) == (provider.issuer, "persona-1")
    assert (identity.name, identity.email) == ("Test Persona", "persona@example.test")
    assert identity.claims["iss"] == provider.id_token_issuer


async def test_each_profile_speaks_its_wire_format(
    provider: StandInProvider, http: httpx.AsyncClient
) -> None:
    client = client_for(provider, http)
    request = await client.authorization_request()
    query = parse_qs(urlsplit(request.url).query)
    assert query["response_type"] == ["code"]
    assert set(query["scope"][0].split()) == {"openid", "profile", "email"}
    assert query["state"] == [request.state]
    code, nonce, verifier = await authorize(client, http)
    await client.complete(code=code, nonce=nonce, code_verifier=verifier)
    sent = provider.token_requests[-1]
    if provider.dialect == "trustnet":
        assert "code_challenge" not in query
        assert sent["grant_type"] == "code"
        assert (sent["client_id"], sent["client_secret"]) == (provider.client_id, "stand-in-secret")
        assert "code_verifier" not in sent
    else:
        assert query["code_challenge_method"] == ["S256"]
        assert query["code_challenge"] == [pkce_challenge(request.code_verifier)]
        assert query["nonce"] == [request.nonce]
        assert sent["grant_type"] == "authorization_code"
        assert "client_secret" not in sent  # client_secret_basic
        assert len(sent["code_verifier"]) >= 43


async def test_client_secret_post_sends_the_secret_in_the_body(
    standard: StandInProvider, http: httpx.AsyncClient
) -> None:
    client = client_for(standard, http, token_auth="client_secret_post")
    code, nonce, verifier = await authorize(client, http)
    await client.complete(code=code, nonce=nonce, code_verifier=verifier)
    assert standard.token_requests[-1]["client_secret"] == "stand-in-secret"


async def test_a_replayed_code_is_refused(
    provider: StandInProvider, http: httpx.AsyncClient
) -> None:
    client = client_for(provider, http)
    code, nonce, verifier = await authorize(client, http)
    await client.complete(code=code, nonce=nonce, code_verifier=verifier)
    with pytest.raises(SignInFailed, match="invalid_grant"):
        await client.complete(code=code, nonce=nonce, code_verifier=verifier)


async def test_a_wrong_pkce_verifier_is_refused(
    standard: StandInProvider, http: httpx.AsyncClient
) -> None:
    client = client_for(standard, http)
    code, nonce, _ = await authorize(client, http)
    with pytest.raises(SignInFailed, match="invalid_grant"):
        await client.complete(code=code, nonce=nonce, code_verifier=secrets.token_urlsafe(64))


async def test_discovery_must_name_the_configured_issuer(
    standard: StandInProvider, http: httpx.AsyncClient
) -> None:
    client = OidcClient(
        http,
        issuer=standard.issuer + "/",  # one character off
        client_id="acme",
        client_secret="stand-in-secret",
        redirect_uri=REDIRECT,
    )
    with pytest.raises(Unavailable, match="names issuer"):
        await client.authorization_request()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(claims: dict[str, Any], headers: dict[str, Any], key: SigningKey) -> str:
    header = {**headers, "alg": "none"}
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."


def _hs256_public(claims: dict[str, Any], headers: dict[str, Any], key: SigningKey) -> str:
    pem = key.public.key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {**headers, "alg": "HS256"}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _other_key(claims: dict[str, Any], headers: dict[str, Any], key: SigningKey) -> str:
    other = generate_key("RS256", rsa_key_size=2048)
    import jwt

    return jwt.encode(claims, other.key, algorithm="RS256", headers=headers)


def _changed(**changes: Any):  # type: ignore[no-untyped-def]
    def tamper(claims: dict[str, Any], headers: dict[str, Any], key: SigningKey) -> str:
        import jwt

        now = int(time.time())
        updated = {**claims, **{k: (v(now) if callable(v) else v) for k, v in changes.items()}}
        updated = {k: v for k, v in updated.items() if v is not ...}
        return jwt.encode(updated, key.key, algorithm=key.algorithm, headers=headers)

    return tamper


def _header(**changes: Any):  # type: ignore[no-untyped-def]
    def tamper(claims: dict[str, Any], headers: dict[str, Any], key: SigningKey) -> str:
        import jwt

        return jwt.encode(claims, key.key, algorithm=key.algorithm, headers={**headers, **changes})

    return tamper


def _appended(extra: str):  # type: ignore[no-untyped-def]
    """Sign the ID token's claims with ``extra`` JSON members appended as written."""

    def tamper(claims: dict[str, Any], headers: dict[str, Any], key: SigningKey) -> str:
        import jwt

        payload = f"{json.dumps(claims)[:-1]}, {extra}}}".encode()
        return jwt.api_jws.encode(payload, key.key, algorithm=key.algorithm, headers=headers)

    return tamper


ID_TOKEN_REJECTIONS = {
    "exp as a numeric string": (_changed(exp=lambda now: str(now + 300)), "'exp' claim is not"),
    "iat past the year 9999": (_changed(iat=1e308), "'iat' claim is out of range"),
    "a repeated sub": (_appended('"sub": "someone-else"'), "repeats the 'sub' claim"),
    "a repeated nonce": (_appended('"nonce": "x"'), "repeats the 'nonce' claim"),
    "bad signature": (_other_key, "signature is invalid"),
    "wrong iss": (_changed(iss="https://evil.test"), "issuer"),
    "wrong aud": (_changed(aud="someone-else"), "audience"),
    "missing sub": (_changed(sub=...), "'sub'"),
    "missing iat": (_changed(iat=...), "'iat'"),
    "expired": (_changed(exp=lambda now: now - 600), "expired"),
    "nbf in the future": (_changed(nbf=lambda now: now + 600), "not valid yet"),
    "iat in the future": (_changed(iat=lambda now: now + 600), "not valid yet"),
    "alg none": (_unsigned, "algorithm 'none'"),
    "HS256 signed with the public key": (_hs256_public, "algorithm 'HS256'"),
    "nonce mismatch": (_changed(nonce="another-sign-in"), "nonce"),
    "several audiences without azp": (_changed(aud=lambda now: ["acme", "other"]), "azp"),
    "azp of another client": (_changed(azp="other"), "azp"),
    "an access token (typ at+jwt)": (_header(typ="at+jwt"), "not of type"),
    "unknown kid": (_header(kid="rotated-away"), "unknown key"),
}


@pytest.mark.parametrize("case", sorted(ID_TOKEN_REJECTIONS))
async def test_every_bad_id_token_is_rejected(
    case: str, standard: StandInProvider, http: httpx.AsyncClient
) -> None:
    tamper, reason = ID_TOKEN_REJECTIONS[case]
    client = client_for(standard, http)
    standard.tamper = tamper
    code, nonce, verifier = await authorize(client, http)
    with pytest.raises(InvalidToken, match=reason):
        await client.complete(code=code, nonce=nonce, code_verifier=verifier)


async def test_the_matrix_controls_accept_a_good_token(
    standard: StandInProvider, http: httpx.AsyncClient
) -> None:
    client = client_for(standard, http)
    standard.tamper = _changed(
        azp="acme", aud=lambda now: ["acme", "other"]
    )  # multi-aud, right azp
    code, nonce, verifier = await authorize(client, http)
    assert (await client.complete(code=code, nonce=nonce, code_verifier=verifier)).subject


async def test_trustnet_requires_its_own_issuer_string_and_accepts_a_null_nonce(
    http: httpx.AsyncClient,
) -> None:
    with StandInProvider(dialect="trustnet") as trustnet:
        client = client_for(trustnet, http)
        code, nonce, verifier = await authorize(client, http)
        identity = await client.complete(code=code, nonce=nonce, code_verifier=verifier)
        assert identity.claims["iss"] == "trustnet.app"
        assert identity.claims["nonce"] is None
        trustnet.tamper = _changed(iss=trustnet.issuer)  # the URL is not TrustNet's iss
        code, nonce, verifier = await authorize(client, http)
        with pytest.raises(InvalidToken, match="issuer"):
            await client.complete(code=code, nonce=nonce, code_verifier=verifier)
        trustnet.tamper = _changed(nonce="not-ours")  # a nonce that is present must match
        code, nonce, verifier = await authorize(client, http)
        with pytest.raises(InvalidToken, match="nonce"):
            await client.complete(code=code, nonce=nonce, code_verifier=verifier)


async def test_the_standard_profile_requires_the_nonce(
    standard: StandInProvider, http: httpx.AsyncClient
) -> None:
    client = client_for(standard, http)
    standard.tamper = _changed(nonce=...)
    code, nonce, verifier = await authorize(client, http)
    with pytest.raises(InvalidToken, match="nonce"):
        await client.complete(code=code, nonce=nonce, code_verifier=verifier)


async def test_userinfo_for_another_subject_is_rejected(
    provider: StandInProvider, http: httpx.AsyncClient
) -> None:
    client = client_for(provider, http)
    provider.userinfo_subject = "someone-else"
    code, nonce, verifier = await authorize(client, http)
    with pytest.raises(InvalidToken, match="userinfo subject"):
        await client.complete(code=code, nonce=nonce, code_verifier=verifier)


async def test_provider_key_rotation_costs_one_jwks_refetch_and_random_kids_no_more(
    standard: StandInProvider, http: httpx.AsyncClient
) -> None:
    clock = ManualMonotonic()
    client = client_for(standard, http, jwks_refetch_interval=0.3, clock=clock)
    code, nonce, verifier = await authorize(client, http)
    await client.complete(code=code, nonce=nonce, code_verifier=verifier)
    assert standard.jwks_requests == 1

    standard.keys = standard.keys.rotated(generate_key("RS256", rsa_key_size=2048))
    clock.now += 0.35  # past the refetch interval, without waiting for it
    code, nonce, verifier = await authorize(client, http)
    await client.complete(code=code, nonce=nonce, code_verifier=verifier)
    assert standard.jwks_requests == 2  # exactly one refetch for the new kid

    assert client.jwks is not None
    client.jwks.min_refetch_interval = 30  # the flood below fits in one interval, however slow
    before = standard.jwks_requests
    for _ in range(20):  # a flood of made-up kids inside one interval
        standard.tamper = _header(kid=secrets.token_hex(6))
        code, nonce, verifier = await authorize(client, http)
        with pytest.raises(InvalidToken, match="unknown key"):
            await client.complete(code=code, nonce=nonce, code_verifier=verifier)
    assert standard.jwks_requests - before <= 1


async def test_with_the_default_interval_a_rotated_key_signs_in_a_second_after_the_switch(
    standard: StandInProvider, http: httpx.AsyncClient
) -> None:
    clock = ManualMonotonic()
    client = client_for(standard, http, clock=clock)  # the default refetch interval
    assert client.jwks_refetch_interval == DEFAULT_MIN_REFETCH_INTERVAL <= 5
    code, nonce, verifier = await authorize(client, http)
    await client.complete(code=code, nonce=nonce, code_verifier=verifier)
    clock.now += 30  # sign-ins with the known key meanwhile fetch nothing

    standard.keys = standard.keys.rotated(generate_key("RS256", rsa_key_size=2048))
    clock.now += 1
    code, nonce, verifier = await authorize(client, http)
    identity = await client.complete(code=code, nonce=nonce, code_verifier=verifier)
    assert identity.subject
    assert standard.jwks_requests == 2  # the first fetch and one for the new kid


async def test_a_switch_just_after_a_fetch_is_picked_up_once_the_interval_has_passed(
    standard: StandInProvider, http: httpx.AsyncClient
) -> None:
    clock = ManualMonotonic()
    client = client_for(standard, http, clock=clock)
    code, nonce, verifier = await authorize(client, http)
    await client.complete(code=code, nonce=nonce, code_verifier=verifier)

    standard.keys = standard.keys.rotated(generate_key("RS256", rsa_key_size=2048))
    clock.now += 1  # inside the interval since the last fetch: the budget holds
    code, nonce, verifier = await authorize(client, http)
    with pytest.raises(InvalidToken, match="unknown key"):
        await client.complete(code=code, nonce=nonce, code_verifier=verifier)
    assert standard.jwks_requests == 1

    clock.now += DEFAULT_MIN_REFETCH_INTERVAL  # the worst case: one interval after the fetch
    code, nonce, verifier = await authorize(client, http)
    assert (await client.complete(code=code, nonce=nonce, code_verifier=verifier)).subject
    assert standard.jwks_requests == 2


async def test_random_kids_cost_at_most_one_jwks_fetch_per_interval(
    standard: StandInProvider, http: httpx.AsyncClient
) -> None:
    clock = ManualMonotonic()
    client = client_for(standard, http, clock=clock)
    await client.discovery()
    assert client.jwks is not None
    assert await client.jwks.key_for(standard.keys.signing_key.kid) is not None
    assert standard.jwks_requests == 1
    interval = DEFAULT_MIN_REFETCH_INTERVAL
    for _ in range(240):  # a minute of made-up kids, 20 a second, 5 at a time
        clock.now += 0.25
        lookups = [client.jwks.key_for(secrets.token_hex(6)) for _ in range(5)]
        assert await asyncio.gather(*lookups) == [None] * 5
    refetches = standard.jwks_requests - 1
    # One per interval: the budget holds, and it is spent (a new kid would be found).
    assert 60 / interval - 1 <= refetches <= 60 / interval


async def test_an_unreachable_provider_is_unavailable(http: httpx.AsyncClient) -> None:
    client = OidcClient(
        http,
        issuer="http://127.0.0.1:9",
        client_id="a",
        client_secret="b",
        redirect_uri=REDIRECT,
        timeout=1,
    )
    with pytest.raises(Unavailable, match="discovery document cannot be fetched"):
        await client.authorization_request()


def test_pkce_challenge_matches_rfc7636_appendix_b() -> None:
    assert pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == (
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_keysets_in_the_stand_in_use_trustnets_kid() -> None:
    with StandInProvider(dialect="trustnet") as trustnet:
        assert [k["kid"] for k in trustnet.keys.public_jwks()["keys"]] == ["trustnet.oidc.key"]
        assert isinstance(trustnet.keys, KeySet)
