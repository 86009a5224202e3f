"""The outermost layer of every request: request id, known hosts, body cap, metrics,
security headers, last-resort 500 and access line, in one pass."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from acme.core.logging import request_id_var

from .edge import KnownHosts, ResponseHeaders
from .metrics import HttpMetrics, RequestMetrics
from .problems import problem_response

__all__ = ["REQUEST_ID_HEADER", "RequestContextMiddleware"]

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

access_logger = logging.getLogger("acme_api.access")
logger = logging.getLogger(__name__)


def _incoming_request_id(value: bytes) -> str | None:
    text = value.decode("latin-1")
    return text if _VALID_REQUEST_ID.fullmatch(text) else None


def _declared_length(value: bytes) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


class _Headers:
    """What the edge reads of a request's headers, in one pass over them."""

    __slots__ = ("continues", "credentials", "host", "length", "request_id")

    def __init__(self, scope: Scope) -> None:
        self.request_id: bytes | None = None
        self.length: bytes | None = None
        self.host: bytes | None = None
        self.credentials = False
        self.continues = False
        for name, value in scope.get("headers", ()):
            if name == b"host":
                self.host = self.host if self.host is not None else value
            elif name in (b"authorization", b"cookie"):
                self.credentials = True
            elif name == b"x-request-id":
                self.request_id = self.request_id if self.request_id is not None else value
            elif name == b"content-length":
                self.length = self.length if self.length is not None else value
            elif name == b"expect":
                self.continues = self.continues or value.lower() == b"100-continue"


class RequestContextMiddleware:
    """The edge of every request, in one pass: request id, known hosts, body cap, metrics,
    security headers, last-resort 500 and access line.

    Every request gets an id (the caller's ``X-Request-ID`` when it is sane),
    set in :data:`acme.core.logging.request_id_var`, so every log line of the
    request carries it, and returned in the response header. Every response
    gets the headers of :class:`acme_api.edge.ResponseHeaders`. Any exception
    that escapes the app becomes a problem-details 500 here, with the same
    headers, instead of a bare text page. Each request ends with one access
    line.

    It also caps request bodies at ``max_body_bytes``: a declared
    ``Content-Length`` above the cap is refused before the app runs, and a
    chunked body is cut off as soon as it passes the cap; both answer 413
    with ``Connection: close``. Before answering, the rest of the body is
    read and dropped (up to ``drain_bytes`` more, for at most
    ``drain_seconds``), as nginx does: a server that closes a connection
    with unread data in its socket makes the kernel reset it, and a client
    that writes its whole body before reading (Python's urllib) then gets
    "connection reset" instead of the 413. A declared body too large to
    drain, or one the client waits to send (``Expect: 100-continue``), is
    refused without reading.

    With ``hosts``, a request for another ``Host`` is refused with a 400
    problem (``unknown_host``) after the body check (see :mod:`acme_api.edge`).
    With ``metrics``, every request that passes both is counted and timed
    (an exception escaping the app counts as a 500).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        drain_bytes: int = 16 * 1024 * 1024,
        drain_seconds: float = 5.0,
        hsts: bool = False,
        hosts: frozenset[str] | None = None,
        metrics: HttpMetrics | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.drain = _Drain(max_bytes=drain_bytes, seconds=drain_seconds)
        self.headers = ResponseHeaders(hsts=hsts)
        self.hosts = None if hosts is None else KnownHosts(hosts)
        self.metrics = None if metrics is None else RequestMetrics(metrics)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seen = _Headers(scope)
        incoming = None if seen.request_id is None else _incoming_request_id(seen.request_id)
        # 128 random bits in hex, as uuid4().hex gives them, without building a UUID.
        request_id = incoming or os.urandom(16).hex()
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False
        set_headers, raw_id, credentials = self.headers.apply, request_id.encode(), seen.credentials

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                set_headers(message, request_id=raw_id, credentials=credentials)
            await send(message)

        limit = self.max_body_bytes
        try:
            declared = None if seen.length is None else _declared_length(seen.length)
            if declared is not None and declared > limit:
                if declared <= self.drain.max_bytes and not seen.continues:
                    await self.drain(receive)
                too_large = problem_response(
                    Request(scope),
                    status=413,
                    code="payload_too_large",
                    detail=_too_large(limit),
                    headers=_CLOSE,
                )
                await too_large(scope, receive, send_with_headers)
                return
            if self.hosts is not None and self.hosts.refuses(scope["path"], seen.host):
                refused = problem_response(
                    Request(scope),
                    status=400,
                    code="unknown_host",
                    detail="this server does not answer for that Host; use the API's public URL",
                )
                await refused(scope, receive, send_with_headers)
                return
            limited = _limited(receive, limit, self.drain)
            if self.metrics is None:
                await self.app(scope, limited, send_with_headers)
                return
            method = self.metrics.begin(scope)
            begun = time.perf_counter()
            try:
                await self.app(scope, limited, send_with_headers)
            finally:
                # The status sent, or 500 for an exception that escaped before any.
                self.metrics.end(scope, method, status, time.perf_counter() - begun)
        except Exception:
            logger.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if response_started:
                raise
            response = problem_response(
                Request(scope),
                status=500,
                code="internal_error",
                detail="an unexpected error occurred; quote the request id when reporting it",
            )
            await response(scope, receive, send_with_headers)
        finally:
            if access_logger.isEnabledFor(logging.INFO):
                _log_access(scope, status, started)
            request_id_var.reset(token)


def _log_access(scope: Scope, status: int, started: float) -> None:
    """The request's access line. Its origin is known, so the record is made directly,
    without the frame walk ``Logger.info`` does to find its caller."""
    record = access_logger.makeRecord(
        access_logger.name,
        logging.INFO,
        __file__,
        0,
        "%s %s %d",
        (scope.get("method"), scope.get("path"), status),
        None,
        func="RequestContextMiddleware",
        extra={"duration_ms": round((time.perf_counter() - started) * 1000, 2)},
    )
    access_logger.handle(record)


def _too_large(limit: int) -> str:
    return f"the request body exceeds {limit} bytes"


_CLOSE = {"Connection": "close"}


class _Drain:
    """Reads and drops the rest of a request body, within a byte and a time budget."""

    def __init__(self, *, max_bytes: int, seconds: float) -> None:
        self.max_bytes = max_bytes
        self.seconds = seconds

    async def __call__(self, receive: Receive, *, more_body: bool = True) -> None:
        dropped = 0
        try:
            async with asyncio.timeout(self.seconds):
                while more_body and dropped <= self.max_bytes:
                    message = await receive()
                    if message["type"] != "http.request":
                        return  # the client is gone
                    dropped += len(message.get("body", b""))
                    more_body = message.get("more_body", False)
        except TimeoutError:
            # A client this slow gets its 413 and, perhaps, a reset.
            logger.info("stopped draining a refused body after %.1f s", self.seconds)


def _limited(receive: Receive, limit: int, drain: _Drain) -> Receive:
    """``receive``, refusing a body past ``limit`` bytes while it streams in."""
    received = 0

    async def receive_with_limit() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                await drain(receive, more_body=message.get("more_body", False))
                # An HTTPException passes through FastAPI's body parsing untouched
                # and is rendered by the problem handlers.
                raise HTTPException(413, _too_large(limit), headers=_CLOSE)
        return message

    return receive_with_limit
