"""The edge: which Host names are answered, and the headers every response carries.

Both are applied by :class:`acme_api.middleware.RequestContextMiddleware`, in
its one pass over each request and response.

- In production only the public URL's host (and ``ACME_ALLOWED_HOSTS``) is
  answered; another ``Host`` gets a 400 problem (``unknown_host``) before any
  route runs. The health endpoints answer any host: probes call them by the
  pod's address. URLs the API writes (``Location``, ``next``, ``Link``) come
  from ``ACME_PUBLIC_URL``, never from ``Host``, in every environment.
- Every response: ``X-Content-Type-Options: nosniff`` and
  ``Referrer-Policy: no-referrer``. A response to a request carrying
  credentials (``Authorization`` or a cookie): ``Cache-Control: no-store``
  unless the route chose its own. ``Strict-Transport-Security`` when the
  public URL is https.
"""

from __future__ import annotations

from starlette.types import Message

__all__ = ["HSTS", "KnownHosts", "ResponseHeaders", "host_name"]

HSTS = "max-age=31536000; includeSubDomains"
_ANY_HOST_PREFIX = "/health/"


def host_name(value: bytes) -> str:
    """The host of a ``Host`` header's value, without its port, lowercased."""
    host = value.decode("latin-1").strip().lower()
    if host.startswith("["):  # [::1]:8000
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class ResponseHeaders:
    """The headers every response gets, set in one pass over its own.

    ``X-Request-ID``, ``X-Content-Type-Options`` and ``Referrer-Policy`` (and
    ``Strict-Transport-Security`` with ``hsts``) replace any the app set;
    ``Cache-Control: no-store`` is added to a response to a request with
    credentials unless the route chose its own.
    """

    def __init__(self, *, hsts: bool) -> None:
        fixed = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
        if hsts:
            fixed.append((b"strict-transport-security", HSTS.encode("latin-1")))
        self._fixed = fixed
        self._replaced = frozenset({b"x-request-id", *(name for name, _ in fixed)})

    def apply(self, message: Message, *, request_id: bytes, credentials: bool) -> None:
        """Set the headers on an ``http.response.start`` message."""
        kept = []
        cache_control = False
        for name, value in message.get("headers", ()):
            lowered = name.lower()
            if lowered in self._replaced:
                continue
            cache_control = cache_control or lowered == b"cache-control"
            kept.append((name, value))
        kept.extend(self._fixed)
        kept.append((b"x-request-id", request_id))
        if credentials and not cache_control:
            kept.append((b"cache-control", b"no-store"))
        message["headers"] = kept


class KnownHosts:
    """The ``Host`` names answered (the health endpoints answer any)."""

    def __init__(self, hosts: frozenset[str]) -> None:
        self.hosts = hosts

    def refuses(self, path: str, host: bytes | None) -> bool:
        """Whether a request for ``path`` with this ``Host`` value is refused."""
        if path.startswith(_ANY_HOST_PREFIX):
            return False
        return host is None or host_name(host) not in self.hosts
