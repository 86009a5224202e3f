from __future__ import annotations

import json

import pytest

from acme.core.errors import Invalid
from acme.core.security import KeySet, generate_key, thumbprint
from acme.core.security.keyfile import load_or_create_key_file


@pytest.mark.parametrize("algorithm", ["ES256", "EdDSA", "RS256"])
def test_generated_keys_round_trip_through_a_private_jwks(algorithm: str) -> None:
    keys = KeySet([generate_key(algorithm)])  # type: ignore[arg-type]
    again = KeySet.from_jwks(json.dumps(keys.private_jwks()))
    assert [k.kid for k in again.keys] == [k.kid for k in keys.keys]
    assert again.signing_key.algorithm == algorithm


def test_the_kid_is_the_rfc7638_thumbprint() -> None:
    # The example key of RFC 7638 section 3.1 and its published thumbprint.
    jwk = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSo"
        "c_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
        "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4v"
        "MQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_the_public_jwks_has_no_private_parts() -> None:
    keys = KeySet([generate_key("ES256"), generate_key("RS256")])
    document = keys.public_jwks()
    assert [k["kid"] for k in document["keys"]] == [k.kid for k in keys.keys]
    for jwk in document["keys"]:
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk)
        assert jwk["use"] == "sig"


def test_rotation_puts_the_new_key_first_and_keeps_the_old_one() -> None:
    old = KeySet.generate()
    new_key = generate_key()
    rotated = old.rotated(new_key)
    assert rotated.signing_key.kid == new_key.kid
    assert rotated.find(old.signing_key.kid) is not None


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("not json", "not valid JSON"),
        ("{}", "must be a JWKS"),
        ('{"keys": []}', "at least one key"),
        ('{"keys": [{"kty": "oct", "k": "c2VjcmV0", "alg": "HS256"}]}', "asymmetric"),
    ],
)
def test_unusable_key_sets_are_refused_without_echoing_them(document: str, message: str) -> None:
    with pytest.raises(Invalid, match=message) as caught:
        KeySet.from_jwks(document)
    assert "c2VjcmV0" not in caught.value.detail


def test_a_public_key_cannot_sign() -> None:
    public = KeySet.generate().public_jwks()
    public["keys"][0]["alg"] = "ES256"
    with pytest.raises(Invalid, match="no private part"):
        KeySet.from_jwks(public)


def test_the_development_key_file_is_made_once_and_private(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / ".acme" / "jwt-keys.json"
    first = load_or_create_key_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_key_file(path).signing_key.kid == first.signing_key.kid
