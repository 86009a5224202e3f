"""Secrets: a port, its adapters and the chain built from ``ACME_SECRETS``.

Example::

    chain = build_secrets_chain("env,files:/run/secrets,gcp:projects/acme-prod")
    password = chain.get("ACME_DATABASE_PASSWORD")  # SecretStr | None
"""

from __future__ import annotations

from ._port import SecretsService, SecretsUnavailable
from .cache import CachedSecrets
from .chain import DEFAULT_SECRETS_SPEC, SecretsChain, build_secrets_chain
from .dotenv import DotenvSecrets
from .env import EnvironmentSecrets
from .files import MountedFileSecrets

__all__ = [
    "DEFAULT_SECRETS_SPEC",
    "CachedSecrets",
    "DotenvSecrets",
    "EnvironmentSecrets",
    "MountedFileSecrets",
    "SecretsChain",
    "SecretsService",
    "SecretsUnavailable",
    "build_secrets_chain",
]
