"""Sign-in attempts sealed for the browser to carry: encrypted and authenticated, never stored.

A started sign-in's state (its hash), nonce, PKCE verifier and return path
travel in the caller's sign-in cookie instead of a table, so starting a
sign-in, which anyone may do without credentials, writes nothing.

Fernet (``cryptography``: AES-CBC and HMAC-SHA256, a random IV per token)
seals them. Its keys are derived from the API's signing keys for this
purpose alone (:meth:`KeySet.derived_secrets`, HKDF), so no new secret needs
managing, every replica that signs the API's tokens opens an attempt another
one sealed, and rotating the signing keys rotates these too: the first key
seals, every key still in the set opens.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from acme.core.security import KeySet

from .models import SignInAttempt

__all__ = ["MAX_SEALED", "open_attempt", "seal_attempt"]

_PURPOSE = "acme.accounts sign-in attempt v1"
MAX_SEALED = 4096
"""The longest sealed attempt :func:`open_attempt` reads (a cookie holds about 4 KB)."""


@lru_cache(maxsize=4)
def _box(keys: KeySet) -> MultiFernet:
    """The sealing box of a key set (cached: a process keeps one set, or a few in tests)."""
    secrets = keys.derived_secrets(_PURPOSE)
    return MultiFernet([Fernet(base64.urlsafe_b64encode(secret)) for secret in secrets])


def seal_attempt(keys: KeySet, attempt: SignInAttempt) -> str:
    """``attempt`` encrypted and authenticated under the first key of ``keys``, URL-safe text."""
    payload = {
        "state_hash": attempt.state_hash,
        "nonce": attempt.nonce,
        "code_verifier": attempt.code_verifier,
        "return_to": attempt.return_to,
        "created_at": attempt.created_at.isoformat(),
        "expires_at": attempt.expires_at.isoformat(),
    }
    data = json.dumps(payload, separators=(",", ":")).encode()
    # Without base64's "=" padding, a cookie carries the value as is (no quoting).
    return _box(keys).encrypt(data).decode("ascii").rstrip("=")


def open_attempt(keys: KeySet, sealed: str) -> SignInAttempt | None:
    """The attempt :func:`seal_attempt` sealed under any key of ``keys``; ``None`` if it is not one.

    Anything altered, sealed under another key, or not a sealed attempt at
    all is ``None``: the caller refuses it as a sign-in this browser did not
    start. Whether it expired is the caller's check (its clock).
    """
    if not sealed or len(sealed) > MAX_SEALED or not sealed.isascii():
        return None
    try:
        token = (sealed + "=" * (-len(sealed) % 4)).encode("ascii")
        payload = json.loads(_box(keys).decrypt(token))
        return SignInAttempt(
            state_hash=str(payload["state_hash"]),
            nonce=str(payload["nonce"]),
            code_verifier=str(payload["code_verifier"]),
            return_to=str(payload["return_to"]),
            created_at=datetime.fromisoformat(payload["created_at"]),
            expires_at=datetime.fromisoformat(payload["expires_at"]),
        )
    except (InvalidToken, ValueError, KeyError, TypeError):
        return None
