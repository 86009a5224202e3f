"""The API's own tokens: issued with kid and typ, and the rejection matrix of the verifier."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from acme.core.security import InvalidToken, KeySet, TokenIssuer, TokenVerifier, generate_key

ISSUER = "https://api.example.test"
AUDIENCE = "acme-api"


@pytest.fixture
def keys() -> KeySet:
    return KeySet.generate()


@pytest.fixture
def issuer(keys: KeySet) -> TokenIssuer:
    return TokenIssuer(keys, issuer=ISSUER, audience=AUDIENCE, lifetime=timedelta(minutes=5))


@pytest.fixture
def verifier(keys: KeySet) -> TokenVerifier:
    return TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, leeway=5)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "0b7c4a38-8f0e-4a63-9f51-2a1de5b0e8a1",
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": "j1",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(keys: KeySet, claims: dict[str, Any], **header: Any) -> str:
    key = keys.signing_key
    headers = {"kid": key.kid, "typ": "at+jwt", **header}
    return jwt.encode(claims, key.key, algorithm=key.algorithm, headers=headers)


def _raw_claims(extra: str, **changes: Any) -> bytes:
    """The payload of :func:`_claims` with ``extra`` JSON members appended as written."""
    good = json.dumps(_claims(**changes))
    return f"{good[:-1]}, {extra}}}".encode()


def _sign_raw(keys: KeySet, payload: bytes) -> str:
    # Validly signed: only the payload's own rules can refuse it.
    key = keys.signing_key
    headers = {"kid": key.kid, "typ": "at+jwt"}
    return jwt.api_jws.encode(payload, key.key, algorithm=key.algorithm, headers=headers)


async def test_an_issued_token_carries_kid_and_typ_and_verifies(
    issuer: TokenIssuer, verifier: TokenVerifier, keys: KeySet
) -> None:
    issued = issuer.issue("someone", claims={"sid": "s1"})
    header = jwt.get_unverified_header(issued.token)
    assert header == {"alg": "ES256", "kid": keys.signing_key.kid, "typ": "at+jwt"}
    claims = await verifier.verify(issued.token)
    assert (claims["sub"], claims["sid"], claims["iss"], claims["aud"]) == (
        "someone",
        "s1",
        ISSUER,
        AUDIENCE,
    )
    assert issued.expires_at > datetime.now(UTC)


def test_the_issuer_refuses_to_let_callers_set_registered_claims(issuer: TokenIssuer) -> None:
    with pytest.raises(ValueError, match="registered claims"):
        issuer.issue("x", claims={"exp": 1})


def _alg_none(keys: KeySet) -> str:
    header = {"alg": "none", "kid": keys.signing_key.kid, "typ": "at+jwt"}
    body = _claims()
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(body).encode())}."


def _hs256_with_public_key(keys: KeySet) -> str:
    # The classic key-confusion attack: HMAC keyed with the PEM of the public key.
    pem = keys.signing_key.public.key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "kid": keys.signing_key.kid, "typ": "at+jwt"}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims()).encode())}"
    import hashlib
    import hmac

    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _bad_signature(keys: KeySet) -> str:
    other = KeySet([generate_key()])
    token = jwt.encode(
        _claims(),
        other.signing_key.key,
        algorithm="ES256",
        headers={"kid": keys.signing_key.kid, "typ": "at+jwt"},
    )
    return token


def _id_token_as_access(keys: KeySet) -> str:
    return _sign(keys, _claims(nonce="n"), typ="JWT")


def _with_jku(keys: KeySet) -> str:
    # A token pointing at the attacker's own keys must still be checked against ours.
    attacker = KeySet([generate_key()])
    return jwt.encode(
        _claims(),
        attacker.signing_key.key,
        algorithm="ES256",
        headers={
            "kid": attacker.signing_key.kid,
            "typ": "at+jwt",
            "jku": "https://attacker.invalid/jwks.json",
            "jwk": attacker.public_jwks()["keys"][0],
        },
    )


REJECTED = {
    "bad signature": (_bad_signature, "signature is invalid"),
    "wrong iss": (lambda k: _sign(k, _claims(iss="https://evil.test")), "issuer"),
    "wrong aud": (lambda k: _sign(k, _claims(aud="other-api")), "audience"),
    "missing sub": (lambda k: _sign(k, _claims(sub=None)), "'sub'"),
    "missing iat": (lambda k: _sign(k, _claims(iat=None)), "'iat'"),
    "missing exp": (lambda k: _sign(k, _claims(exp=None)), "'exp'"),
    "expired": (lambda k: _sign(k, _claims(exp=int(time.time()) - 60)), "expired"),
    "nbf in the future": (lambda k: _sign(k, _claims(nbf=int(time.time()) + 600)), "not valid yet"),
    "alg none": (_alg_none, "algorithm 'none'"),
    "HS256 with the public key": (_hs256_with_public_key, "algorithm 'HS256'"),
    "unknown kid": (lambda k: _sign(k, _claims(), kid="nobody"), "unknown key"),
    "no kid": (
        lambda k: jwt.encode(
            _claims(), k.signing_key.key, algorithm="ES256", headers={"typ": "at+jwt"}
        ),
        "'kid'",
    ),
    "ID token as access token": (_id_token_as_access, "not of type"),
    "jku and jwk headers": (_with_jku, "unknown key"),
    "exp as a numeric string": (
        lambda k: _sign(k, _claims(exp=str(int(time.time()) + 300))),
        "'exp' claim is not a number",
    ),
    "exp past the year 9999": (
        lambda k: _sign(k, _claims(exp=1e308)),
        "'exp' claim is out of range",
    ),
    "exp as a boolean": (lambda k: _sign(k, _claims(exp=True)), "'exp' claim is not a number"),
    "nbf as a string": (lambda k: _sign(k, _claims(nbf="0")), "'nbf' claim is not a number"),
    "iat of zero": (lambda k: _sign(k, _claims(iat=0)), "'iat' claim is out of range"),
    "iat as null": (lambda k: _sign(k, {**_claims(), "iat": None}), "'iat' claim is not a number"),
    "exp as Infinity": (
        lambda k: _sign_raw(k, _raw_claims('"exp": Infinity', exp=None)),
        "Infinity, which is not JSON",
    ),
    "exp as 1e400": (lambda k: _sign_raw(k, _raw_claims('"exp": 1e400', exp=None)), "out of range"),
    "exp as a 401-digit integer": (
        lambda k: _sign_raw(k, _raw_claims('"exp": 1' + "0" * 400, exp=None)),
        "out of range",
    ),
    "a repeated exp": (
        lambda k: _sign_raw(k, _raw_claims(f'"exp": 1, "exp": {int(time.time()) + 300}')),
        "repeats the 'exp' claim",
    ),
    "a repeated sub": (
        lambda k: _sign_raw(k, _raw_claims('"sub": "mallory"')),
        "repeats the 'sub' claim",
    ),
    "a repeated name in a nested claim": (
        lambda k: _sign_raw(k, _raw_claims('"cnf": {"jkt": "a", "jkt": "b"}')),
        "repeats the 'jkt' claim",
    ),
    "a payload that is not an object": (lambda k: _sign_raw(k, b"[1, 2]"), "not a JSON object"),
    "not a JWT": (lambda k: "not-a-token", "compact JWS"),
    "garbage header": (lambda k: "e30x.e30.e30", "header"),
}


@pytest.mark.parametrize("case", sorted(REJECTED))
async def test_every_bad_token_is_rejected(
    case: str, keys: KeySet, verifier: TokenVerifier
) -> None:
    make, reason = REJECTED[case]
    token = make(keys)
    with pytest.raises(InvalidToken, match=reason) as caught:
        await verifier.verify(token)
    challenge = str(caught.value.extra["www_authenticate"])
    assert challenge.startswith('Bearer realm="acme", error="invalid_token"')


async def test_a_good_hand_made_token_is_accepted(keys: KeySet, verifier: TokenVerifier) -> None:
    assert (await verifier.verify(_sign(keys, _claims())))["jti"] == "j1"


async def test_time_claims_may_be_fractional_and_unknown_members_are_kept(
    keys: KeySet, verifier: TokenVerifier
) -> None:
    # The controls of the payload rows above: a raw payload and a finite float pass.
    now = time.time()
    token = _sign_raw(keys, _raw_claims(f'"exp": {now + 300.5}, "cnf": {{"jkt": "a"}}', exp=None))
    claims = await verifier.verify(token)
    assert claims["exp"] == now + 300.5
    assert claims["cnf"] == {"jkt": "a"}


async def test_small_clock_skew_is_tolerated(keys: KeySet, verifier: TokenVerifier) -> None:
    skewed = _claims(iat=int(time.time()) + 3, nbf=int(time.time()) + 3)
    assert (await verifier.verify(_sign(keys, skewed)))["sub"]


async def test_a_rotated_out_key_still_verifies_until_it_is_dropped() -> None:
    old = KeySet.generate()
    token = TokenIssuer(old, issuer=ISSUER, audience=AUDIENCE, lifetime=timedelta(minutes=5))
    old_token = token.issue("a").token
    rotated = old.rotated(generate_key("EdDSA"))
    new_token = (
        TokenIssuer(rotated, issuer=ISSUER, audience=AUDIENCE, lifetime=timedelta(minutes=5))
        .issue("b")
        .token
    )
    assert jwt.get_unverified_header(new_token)["alg"] == "EdDSA"
    verifier = TokenVerifier(rotated, issuer=ISSUER, audience=AUDIENCE)
    assert (await verifier.verify(old_token))["sub"] == "a"
    assert (await verifier.verify(new_token))["sub"] == "b"
    dropped = TokenVerifier(KeySet([rotated.signing_key]), issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(InvalidToken, match="unknown key"):
        await dropped.verify(old_token)


async def test_verified_tokens_are_cached_until_they_expire(keys: KeySet) -> None:
    now = [time.time()]
    verifier = TokenVerifier(
        keys, issuer=ISSUER, audience=AUDIENCE, leeway=0, cache_size=2, clock=lambda: now[0]
    )
    short = _sign(keys, _claims(exp=int(now[0]) + 60))
    first = await verifier.verify(short)
    assert await verifier.verify(short) is first  # served from the cache
    now[0] += 61
    # Past its exp the cached entry is gone: the token is verified afresh
    # (an expired token is refused: test_every_bad_token_is_rejected[expired]).
    assert await verifier.verify(short) is not first
    for jti in ("a", "b", "c"):
        await verifier.verify(_sign(keys, _claims(jti=jti)))
    assert len(verifier._cache) <= 2  # bounded


async def test_the_cache_keeps_no_failures(keys: KeySet, verifier: TokenVerifier) -> None:
    bad = _sign(keys, _claims(aud="other"))
    for _ in range(2):
        with pytest.raises(InvalidToken):
            await verifier.verify(bad)
    assert bad not in verifier._cache


def test_only_asymmetric_algorithms_may_be_allowed(keys: KeySet) -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, algorithms=("HS256",))
