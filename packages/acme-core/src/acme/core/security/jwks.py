"""A remote JWKS, fetched over HTTP and cached: another service's (or a provider's) keys.

Another team verifies the API's tokens with acme-core alone::

    async with httpx.AsyncClient() as http:
        keys = RemoteJwks(http, "https://api.example.com/.well-known/jwks.json")
        verifier = TokenVerifier(keys, issuer="https://api.example.com", audience="acme-api")
        claims = await verifier.verify(token)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from acme.core.errors import Unavailable

from .keys import VerificationKey, public_keys_from_jwks

__all__ = ["DEFAULT_MIN_REFETCH_INTERVAL", "RemoteJwks"]

logger = logging.getLogger(__name__)

DEFAULT_MIN_REFETCH_INTERVAL = 5.0
"""Least seconds between two fetches caused by unknown kids.

Short, because a provider that rotates its key signs with the new one at once:
until the next refetch every sign-in fails. Long enough that made-up kids cost
the provider at most one request per interval and process.
"""


class RemoteJwks:
    """Keys from a JWKS URL, cached; refetched on an unknown ``kid``, at most once per interval.

    - The document is fetched on first use and again after ``max_age``.
    - An unknown ``kid`` triggers one refetch, unless the last fetch was less
      than ``min_refetch_interval`` ago: a flood of made-up key ids costs at
      most one request per interval (concurrent lookups share one fetch).
    - A failed refetch keeps the keys already known (logged, not raised).

    Args:
        http: The client to fetch with (owned by the caller).
        url: The JWKS URL.
        min_refetch_interval: Least seconds between two fetches caused by
            unknown kids (:data:`DEFAULT_MIN_REFETCH_INTERVAL`); after a
            key rotation, tokens signed with the new key fail for at most this
            long, and only when the previous fetch was that recent.
        max_age: Seconds after which the document is refreshed anyway.
        clock: Monotonic seconds (tests pass their own instead of sleeping).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        *,
        min_refetch_interval: float = DEFAULT_MIN_REFETCH_INTERVAL,
        max_age: float = 3600.0,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._clock = clock
        self._http = http
        self.min_refetch_interval = min_refetch_interval
        self.max_age = max_age
        self.timeout = timeout
        self._keys: dict[str, VerificationKey] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last fetch attempt
        self._lock = asyncio.Lock()
        self.fetches = 0  # fetch attempts so far, for operators and tests

    async def key_for(self, kid: str) -> VerificationKey | None:
        """The key with this id, fetching or refetching the document as the policy allows.

        Raises:
            Unavailable: the document has never been fetched successfully.
        """
        if self._fetched_at is None or self._clock() - self._fetched_at > self.max_age:
            await self._refresh()
        key = self._keys.get(kid)
        if key is None and self._fetched_at is not None:
            await self._refresh()
            key = self._keys.get(kid)
        if self._fetched_at is None:
            raise Unavailable(f"the key set at {self.url} is unavailable", code="jwks_unavailable")
        return key

    async def _refresh(self) -> None:
        async with self._lock:
            now = self._clock()
            if (
                self._attempted_at is not None
                and now - self._attempted_at < self.min_refetch_interval
            ):
                return  # fetched (or failed) moments ago, possibly by a concurrent caller
            self._attempted_at = now
            self.fetches += 1
            try:
                keys = await self._fetch()
            except Unavailable as exc:
                logger.warning(
                    "JWKS refresh failed, keeping %d known keys: %s", len(self._keys), exc.detail
                )
                return
            self._keys = keys
            self._fetched_at = now

    async def _fetch(self) -> dict[str, VerificationKey]:
        try:
            response = await self._http.get(
                self.url, timeout=self.timeout, headers={"Accept": "application/json"}
            )
            response.raise_for_status()
            document: Any = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise Unavailable(
                f"the key set at {self.url} cannot be fetched ({type(exc).__name__})",
                code="jwks_unavailable",
            ) from exc
        if not isinstance(document, dict):
            raise Unavailable(f"{self.url} is not a JWKS document", code="jwks_unavailable")
        return {key.kid: key for key in public_keys_from_jwks(document)}
