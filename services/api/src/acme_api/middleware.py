"""The outermost layer of every request: request id, access log, last-resort 500."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from acme.core.logging import request_id_var

from .problems import problem_response

__all__ = ["REQUEST_ID_HEADER", "RequestContextMiddleware"]

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

access_logger = logging.getLogger("acme_api.access")
logger = logging.getLogger(__name__)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _VALID_REQUEST_ID.fullmatch(text) else None
    return None


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class RequestContextMiddleware:
    """Gives every request an id (the caller's ``X-Request-ID`` when it is sane).

    The id is set in :data:`acme.core.logging.request_id_var`, so every log
    line of the request carries it, and returned in the response header. Any
    exception that escapes the app becomes a problem-details 500 here, with
    the same header, instead of a bare text page.

    It also caps request bodies at ``max_body_bytes``: a declared
    ``Content-Length`` above the cap is refused before the app runs, and a
    chunked body is cut off as soon as it passes the cap; both answer 413.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        limit = self.max_body_bytes
        try:
            declared = _declared_length(scope)
            if declared is not None and declared > limit:
                too_large = problem_response(
                    Request(scope), status=413, code="payload_too_large", detail=_too_large(limit)
                )
                await too_large(scope, receive, send_with_id)
                return
            await self.app(scope, _limited(receive, limit), send_with_id)
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
            await response(scope, receive, send_with_id)
        finally:
            access_logger.info(
                "%s %s %d",
                scope.get("method"),
                scope.get("path"),
                status,
                extra={"duration_ms": round((time.perf_counter() - started) * 1000, 2)},
            )
            request_id_var.reset(token)


def _too_large(limit: int) -> str:
    return f"the request body exceeds {limit} bytes"


def _limited(receive: Receive, limit: int) -> Receive:
    """``receive``, refusing a body past ``limit`` bytes while it streams in."""
    received = 0

    async def receive_with_limit() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                # An HTTPException passes through FastAPI's body parsing untouched
                # and is rendered by the problem handlers.
                raise HTTPException(413, _too_large(limit))
        return message

    return receive_with_limit
