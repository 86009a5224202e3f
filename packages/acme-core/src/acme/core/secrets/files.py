"""Secrets mounted as files, one per name (Docker, Kubernetes, systemd credentials)."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import SecretStr

from ._port import SecretsUnavailable

__all__ = ["MountedFileSecrets"]

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class MountedFileSecrets:
    """Reads ``<directory>/<name>``, falling back to the lower-case name.

    ``/run/secrets/ACME_DATABASE_URL`` and ``/run/secrets/acme_database_url``
    both serve ``ACME_DATABASE_URL``. One trailing newline is stripped, since
    most tools that write these files add one. Files are read at every lookup
    so a rotated mount is picked up (wrap in :class:`CachedSecrets` to limit
    reads).
    """

    def __init__(self, directory: str | Path) -> None:
        self._directory = Path(directory)

    @property
    def description(self) -> str:
        return f"files:{self._directory}"

    def get(self, name: str) -> SecretStr | None:
        if not _SAFE_NAME.fullmatch(name) or name in {".", ".."}:
            return None
        for candidate in (name, name.lower()):
            path = self._directory / candidate
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                continue
            except IsADirectoryError:
                continue
            except OSError as exc:
                raise SecretsUnavailable(
                    f"cannot read secret file {path}: {exc.strerror or type(exc).__name__}"
                ) from exc
            return SecretStr(text[:-1] if text.endswith("\n") else text)
        return None

    def __repr__(self) -> str:
        return f"MountedFileSecrets({str(self._directory)!r})"
