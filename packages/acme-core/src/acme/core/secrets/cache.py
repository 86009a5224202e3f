"""A time-to-live cache in front of any secrets source."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from pydantic import SecretStr

from ._port import SecretsService, SecretsUnavailable

__all__ = ["CachedSecrets"]

logger = logging.getLogger(__name__)


class CachedSecrets:
    """Caches lookups (hits and misses) for ``ttl`` seconds.

    When the source fails after a value was cached, the stale value keeps
    serving and a warning is logged (without the value): a secrets provider
    outage must not take the service down. A failure with nothing cached is
    raised, so startup fails fast.
    """

    def __init__(
        self,
        source: SecretsService,
        *,
        ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl < 0:
            raise ValueError("ttl must not be negative")
        self._source = source
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[float, SecretStr | None]] = {}
        self._lock = threading.Lock()

    @property
    def description(self) -> str:
        return self._source.description

    def get(self, name: str) -> SecretStr | None:
        now = self._clock()
        with self._lock:
            entry = self._entries.get(name)
        if entry is not None and now - entry[0] < self._ttl:
            return entry[1]
        try:
            value = self._source.get(name)
        except SecretsUnavailable:
            if entry is None:
                raise
            logger.warning(
                "secrets source %s unavailable; serving the cached %s",
                self._source.description,
                name,
            )
            return entry[1]
        with self._lock:
            self._entries[name] = (now, value)
        return value

    def invalidate(self, name: str | None = None) -> None:
        """Forget one cached name, or all of them."""
        with self._lock:
            if name is None:
                self._entries.clear()
            else:
                self._entries.pop(name, None)

    def __repr__(self) -> str:
        return f"CachedSecrets({self._source!r}, ttl={self._ttl})"
