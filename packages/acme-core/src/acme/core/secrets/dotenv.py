"""Secrets from a ``.env`` file."""

from __future__ import annotations

from pathlib import Path

from dotenv import dotenv_values
from pydantic import SecretStr

__all__ = ["DotenvSecrets"]


class DotenvSecrets:
    """Reads a dotenv file once; a missing file simply holds nothing.

    The file is parsed by python-dotenv, so quoting, ``export`` prefixes and
    comments behave as every other dotenv tool expects. Variable expansion is
    off: a value is taken literally.
    """

    def __init__(self, path: str | Path = ".env") -> None:
        self._path = Path(path)
        self._values: dict[str, str] = {}
        if self._path.is_file():
            parsed = dotenv_values(self._path, interpolate=False, encoding="utf-8")
            self._values = {k: v for k, v in parsed.items() if v is not None}

    @property
    def description(self) -> str:
        return f"dotenv:{self._path}"

    def get(self, name: str) -> SecretStr | None:
        value = self._values.get(name)
        return None if value is None else SecretStr(value)

    def __repr__(self) -> str:
        return f"DotenvSecrets({str(self._path)!r})"
