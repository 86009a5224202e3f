"""The edge: which Host names are answered, and the headers every response carries.

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

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .problems import problem_response

__all__ = ["KnownHostsMiddleware", "SecurityHeadersMiddleware"]

HSTS = "max-age=31536000; includeSubDomains"
_ANY_HOST_PREFIX = "/health/"


def _host_name(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"host":
            host: str = value.decode("latin-1").strip().lower()
            if host.startswith("["):  # [::1]:8000
                return host[: host.find("]") + 1]
            return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return ""


def _has_credentials(scope: Scope) -> bool:
    return any(name in (b"authorization", b"cookie") for name, _ in scope.get("headers", ()))


class SecurityHeadersMiddleware:
    """Sets the security headers on every response (the outermost layer, so on all of them).

    Args:
        app: The app inside.
        hsts: Send ``Strict-Transport-Security`` (the public URL is https).
    """

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        no_store = _has_credentials(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                if no_store and "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
                if self.hsts:
                    headers["Strict-Transport-Security"] = HSTS
            await send(message)

        await self.app(scope, receive, send_with_headers)


class KnownHostsMiddleware:
    """Refuses a ``Host`` not in ``hosts`` with a problem (inside the request context,
    so the refusal carries its request id); the health endpoints answer any host.
    """

    def __init__(self, app: ASGIApp, *, hosts: frozenset[str]) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and not scope["path"].startswith(_ANY_HOST_PREFIX)
            and _host_name(scope) not in self.hosts
        ):
            refused = problem_response(
                Request(scope),
                status=400,
                code="unknown_host",
                detail="this server does not answer for that Host; use the API's public URL",
            )
            await refused(scope, receive, send)
            return
        await self.app(scope, receive, send)
