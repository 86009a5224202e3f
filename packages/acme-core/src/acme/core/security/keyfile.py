"""A development key file: generated once, then reused, readable by its owner only."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from .keys import KeyAlgorithm, KeySet

__all__ = ["load_or_create_key_file"]

logger = logging.getLogger(__name__)


def load_or_create_key_file(path: Path, *, algorithm: KeyAlgorithm = "ES256") -> KeySet:
    """The key set stored at ``path``, generating it (mode 0600) when the file is missing.

    For development only: production keys come from ``ACME_JWT_KEYS``.

    Raises:
        Invalid: the file exists but does not hold a usable private JWKS.
    """
    if path.exists():
        return KeySet.from_jwks(path.read_text(encoding="utf-8"))
    keys = KeySet.generate(algorithm)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(keys.private_jwks(), handle, indent=2)
    try:
        os.link(temporary, path)  # fails if another process won the race: use its keys
    except FileExistsError:
        temporary.unlink()
        return KeySet.from_jwks(path.read_text(encoding="utf-8"))
    temporary.unlink()
    logger.info("generated a development signing key in %s", path)
    return keys
