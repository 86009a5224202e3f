"""The rules settings fields share: placeholders and plain http refused in production."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from pydantic import SecretStr, ValidationInfo

__all__ = [
    "DEFAULT_DATABASE_URL",
    "PLACEHOLDER_MARKERS",
    "https_in_production",
    "refuse_placeholder",
    "set_in_production",
]

PLACEHOLDER_MARKERS = ("changeme", "change-me", "change_me", "replace-me", "placeholder", "<", ">")
_PLACEHOLDER_VALUES = frozenset({"", "secret", "password", "todo", "xxx", "dev", "test", "example"})


def refuse_placeholder(value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
    """A secret field's validator: production refuses a value that is obviously a placeholder."""
    if value is None or info.data.get("env") != "production":
        return value
    raw = value.get_secret_value().strip().lower()
    if raw in _PLACEHOLDER_VALUES or any(marker in raw for marker in PLACEHOLDER_MARKERS):
        raise ValueError("a placeholder value is not allowed when ACME_ENV=production")
    return value


DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./acme.db"


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def https_in_production(value: str, info: ValidationInfo) -> str:
    """A URL field's validator: production needs ``https://``, but for loopback hosts.

    Loopback stays allowed so that the production stack can be tried on one
    machine; anything a browser or another service reaches must be https.
    """
    if info.data.get("env") == "production":
        parts = urlsplit(value)
        if parts.scheme != "https" and not _is_loopback(parts.hostname):
            raise ValueError("must be an https:// URL when ACME_ENV=production")
    return value


def set_in_production(value: SecretStr, info: ValidationInfo) -> SecretStr:
    """The database URL's validator: production names its database, never the dev default."""
    if info.data.get("env") == "production" and value.get_secret_value() == DEFAULT_DATABASE_URL:
        raise ValueError("required when ACME_ENV=production (the default is a development file)")
    return value
