"""Asymmetric signing keys: generation, JWKS documents, key ids and rotation.

A :class:`KeySet` holds one or more private keys. The first one signs new
tokens; every key still verifies, so a key is rotated by putting a new key
first and dropping the old one once the longest-lived token it signed has
expired. :meth:`KeySet.public_jwks` is the document other services fetch to
verify the tokens on their own.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from jwt import PyJWK
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from jwt.exceptions import PyJWTError

from acme.core.errors import Invalid

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "KeyAlgorithm",
    "KeySet",
    "SigningKey",
    "VerificationKey",
    "generate_key",
    "thumbprint",
]

KeyAlgorithm = Literal["ES256", "EdDSA", "RS256"]
ASYMMETRIC_ALGORITHMS: frozenset[str] = frozenset(
    {"ES256", "ES384", "ES512", "EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
)
# RFC 7638: the members that identify a key, per key type.
_THUMBPRINT_MEMBERS = {
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "RSA": ("e", "kty", "n"),
}
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public key, base64url without padding."""
    members = _THUMBPRINT_MEMBERS.get(str(jwk.get("kty")))
    if members is None:
        raise Invalid(f"unsupported key type {jwk.get('kty')!r}", code="invalid_key")
    document = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(document.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A public key with the one algorithm it may verify (never taken from a token)."""

    kid: str
    algorithm: str
    key: Any  # a cryptography public key object
    jwk: Mapping[str, Any]  # the public JWK, as published


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A private key, its key id and its algorithm."""

    kid: str
    algorithm: str
    key: Any  # a cryptography private key object
    private_jwk: Mapping[str, Any]

    @property
    def public(self) -> VerificationKey:
        """The public half, as a :class:`VerificationKey`."""
        public_jwk = {k: v for k, v in self.private_jwk.items() if k not in _PRIVATE_MEMBERS}
        public_jwk |= {"use": "sig", "alg": self.algorithm, "kid": self.kid}
        return VerificationKey(self.kid, self.algorithm, self.key.public_key(), public_jwk)


def generate_key(algorithm: KeyAlgorithm = "ES256", *, rsa_key_size: int = 3072) -> SigningKey:
    """A new private key; its ``kid`` is its RFC 7638 thumbprint."""
    private: Any
    if algorithm == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
        jwk = ECAlgorithm.to_jwk(private, as_dict=True)
    elif algorithm == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
        jwk = OKPAlgorithm.to_jwk(private, as_dict=True)
    elif algorithm == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=rsa_key_size)
        jwk = RSAAlgorithm.to_jwk(private, as_dict=True)
    else:
        raise Invalid(f"unsupported signing algorithm {algorithm!r}", code="invalid_key")
    kid = thumbprint(jwk)
    jwk |= {"kid": kid, "alg": algorithm, "use": "sig"}
    return SigningKey(kid=kid, algorithm=algorithm, key=private, private_jwk=jwk)


def _signing_key(jwk: Mapping[str, Any], index: int) -> SigningKey:
    if not isinstance(jwk, Mapping):
        raise Invalid(f"key {index} is not a JSON object", code="invalid_key")
    algorithm = jwk.get("alg")
    if algorithm not in ASYMMETRIC_ALGORITHMS:
        raise Invalid(
            f"key {index}: 'alg' must name an asymmetric algorithm "
            f"({', '.join(sorted(ASYMMETRIC_ALGORITHMS))}), not {algorithm!r}",
            code="invalid_key",
        )
    if "d" not in jwk:
        raise Invalid(f"key {index} has no private part ('d')", code="invalid_key")
    try:
        parsed = PyJWK(dict(jwk), algorithm=str(algorithm))
    except PyJWTError as exc:
        raise Invalid(f"key {index} cannot be used: {exc}", code="invalid_key") from None
    kid = str(jwk.get("kid") or thumbprint(jwk))
    return SigningKey(kid=kid, algorithm=str(algorithm), key=parsed.key, private_jwk=dict(jwk))


class KeySet:
    """The API's own keys: the first signs, all verify.

    Raises:
        Invalid: no key, a duplicate ``kid``, or a key that cannot sign.
    """

    def __init__(self, keys: Sequence[SigningKey]) -> None:
        if not keys:
            raise Invalid("a key set needs at least one key", code="invalid_key")
        kids = [key.kid for key in keys]
        if len(set(kids)) != len(kids):
            raise Invalid("two keys share one 'kid'", code="invalid_key")
        self.keys: tuple[SigningKey, ...] = tuple(keys)
        self._public = {key.kid: key.public for key in keys}

    @property
    def signing_key(self) -> SigningKey:
        """The key that signs new tokens."""
        return self.keys[0]

    @classmethod
    def generate(cls, algorithm: KeyAlgorithm = "ES256") -> KeySet:
        """A set of one new key."""
        return cls([generate_key(algorithm)])

    @classmethod
    def from_jwks(cls, document: str | Mapping[str, Any]) -> KeySet:
        """Load a private JWKS (``{"keys": [...]}``, JSON text or parsed).

        Raises:
            Invalid: the document is not a usable private JWKS; the message
                never contains key material.
        """
        if isinstance(document, str):
            try:
                document = json.loads(document)
            except ValueError:
                raise Invalid("the key set is not valid JSON", code="invalid_key") from None
        keys = document.get("keys") if isinstance(document, Mapping) else None
        if not isinstance(keys, list):
            raise Invalid('the key set must be a JWKS: {"keys": [...]}', code="invalid_key")
        return cls([_signing_key(jwk, index) for index, jwk in enumerate(keys)])

    def rotated(self, new_key: SigningKey, *, keep: int = 1) -> KeySet:
        """A set where ``new_key`` signs and the ``keep`` newest old keys still verify."""
        return KeySet([new_key, *self.keys[:keep]])

    def find(self, kid: str) -> VerificationKey | None:
        """The public key with this id, or ``None``."""
        return self._public.get(kid)

    async def key_for(self, kid: str) -> VerificationKey | None:
        """:class:`KeySource` lookup (local keys never need fetching)."""
        return self._public.get(kid)

    def public_jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The JWKS document of the public keys (safe to publish)."""
        return {"keys": [dict(key.public.jwk) for key in self.keys]}

    def private_jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The JWKS document with private parts (a secret: store it as one)."""
        return {"keys": [dict(key.private_jwk) for key in self.keys]}

    def derived_secrets(self, purpose: str) -> list[bytes]:
        """One 32-byte secret per key for ``purpose`` (HKDF-SHA256), in the set's order.

        For symmetric needs (an HMAC over pagination cursors) that should
        rotate with the signing keys and need no setting of their own. Each
        purpose gets unrelated secrets, and none reveals the private key.
        """
        info = f"acme-core derived secret: {purpose}".encode()
        secrets = []
        for key in self.keys:
            material = key.key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            secrets.append(HKDF(hashes.SHA256(), length=32, salt=None, info=info).derive(material))
        return secrets

    def __repr__(self) -> str:
        return f"KeySet(kids={[key.kid for key in self.keys]!r})"


def public_keys_from_jwks(document: Mapping[str, Any]) -> Iterable[VerificationKey]:
    """The usable signing keys of a public JWKS; keys without ``kid`` or for encryption skipped.

    A key whose ``alg`` is missing gets the one its type implies (ES256 for
    P-256, EdDSA for Ed25519, RS256 for RSA); symmetric keys are never used.
    """
    keys = document.get("keys")
    if not isinstance(keys, list):
        return
    for jwk in keys:
        if not isinstance(jwk, Mapping) or not isinstance(jwk.get("kid"), str):
            continue
        if jwk.get("use", "sig") != "sig" or jwk.get("kty") not in _THUMBPRINT_MEMBERS:
            continue
        try:
            parsed = PyJWK(dict(jwk), algorithm=jwk.get("alg"))
        except PyJWTError:
            continue
        if parsed.algorithm_name not in ASYMMETRIC_ALGORITHMS:
            continue
        key = parsed.key
        if hasattr(key, "public_key"):  # a private key published by mistake: use its public half
            key = key.public_key()
        public = {k: v for k, v in jwk.items() if k not in _PRIVATE_MEMBERS}
        yield VerificationKey(str(jwk["kid"]), parsed.algorithm_name, key, public)
