"""Secrets from the process environment."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import SecretStr

__all__ = ["EnvironmentSecrets"]


class EnvironmentSecrets:
    """Reads ``os.environ`` (or a given mapping) at every lookup."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    @property
    def description(self) -> str:
        return "env"

    def get(self, name: str) -> SecretStr | None:
        value = self._environ.get(name)
        return None if value is None else SecretStr(value)

    def __repr__(self) -> str:
        return "EnvironmentSecrets()"
