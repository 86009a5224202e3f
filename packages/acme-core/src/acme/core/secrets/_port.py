"""The secrets port."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pydantic import SecretStr

from acme.core.errors import Unavailable

__all__ = ["SecretsService", "SecretsUnavailable"]


class SecretsUnavailable(Unavailable):
    """A secrets source could not be asked (network down, permission denied, ...)."""

    default_code = "secrets_unavailable"


@runtime_checkable
class SecretsService(Protocol):
    """Looks up secret values by name.

    Names are the operator-facing variable names (``ACME_DATABASE_URL``). A
    source that does not hold a name returns ``None``; a source that cannot be
    asked raises :class:`SecretsUnavailable`. Values come back as
    :class:`~pydantic.SecretStr` so they never show in a repr or a log line.
    """

    @property
    def description(self) -> str:
        """Where the values come from, for error messages (never a value)."""
        ...

    def get(self, name: str) -> SecretStr | None:
        """Return the secret called ``name``, or ``None`` when this source has none."""
        ...
