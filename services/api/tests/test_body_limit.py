"""The body cap in RequestContextMiddleware: a refused body is read to its end before the 413.

In-process, on the ASGI messages (the served test, test_oversized_body_served,
checks the same over a real socket).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.types import Message, Scope

from acme_api.middleware import RequestContextMiddleware
from acme_api.problems import install_problem_handlers

LIMIT = 1024 * 1024
CHUNK = 64 * 1024


class Client:
    """Plays uvicorn's side: hands out the body in chunks, records what the app sent."""

    def __init__(self, size: int) -> None:
        self.chunks = [b"x" * CHUNK] * (size // CHUNK)
        self.read = 0
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        if not self.chunks:
            return {"type": "http.disconnect"}
        chunk = self.chunks.pop(0)
        self.read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.sent[0]["headers"])


def problem_app() -> FastAPI:
    """An app reading the whole body, with the API's problem handlers."""
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/items")
    async def items(request: Request) -> dict[str, int]:
        return {"read": len(await request.body())}

    return app


reading_app = problem_app()


def scope_for(*headers: tuple[bytes, bytes]) -> Scope:
    return {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "path": "/items",
        "raw_path": b"/items",
        "query_string": b"",
        "headers": list(headers),
        "server": ("testserver", 80),
        "scheme": "http",
        "root_path": "",
    }


async def test_a_declared_oversized_body_is_drained_then_refused_with_connection_close() -> None:
    client = Client(5 * 1024 * 1024)
    middleware = RequestContextMiddleware(reading_app, max_body_bytes=LIMIT)
    await middleware(scope_for((b"content-length", b"5242880")), client.receive, client.send)
    assert client.status == 413
    assert client.headers[b"connection"] == b"close"
    assert client.read == 5 * 1024 * 1024  # nothing left unread in the socket


async def test_a_streamed_oversized_body_is_drained_then_refused_with_connection_close() -> None:
    client = Client(5 * 1024 * 1024)
    middleware = RequestContextMiddleware(reading_app, max_body_bytes=LIMIT)
    await middleware(scope_for((b"transfer-encoding", b"chunked")), client.receive, client.send)
    assert client.status == 413
    assert client.headers[b"connection"] == b"close"
    assert client.read == 5 * 1024 * 1024


async def test_draining_stops_at_its_byte_budget() -> None:
    client = Client(8 * 1024 * 1024)
    middleware = RequestContextMiddleware(
        reading_app, max_body_bytes=LIMIT, drain_bytes=2 * 1024 * 1024
    )
    await middleware(scope_for((b"transfer-encoding", b"chunked")), client.receive, client.send)
    assert client.status == 413
    assert client.read < 4 * 1024 * 1024


async def test_a_declared_body_beyond_the_budget_or_awaiting_100_continue_is_not_read() -> None:
    middleware = RequestContextMiddleware(
        reading_app, max_body_bytes=LIMIT, drain_bytes=2 * 1024 * 1024
    )
    huge = Client(4 * 1024 * 1024)
    await middleware(scope_for((b"content-length", b"4194304")), huge.receive, huge.send)
    waiting = Client(2 * 1024 * 1024)
    expect = (b"expect", b"100-continue")
    length = (b"content-length", b"2097152")
    await middleware(scope_for(length, expect), waiting.receive, waiting.send)
    assert (huge.status, huge.read, waiting.status, waiting.read) == (413, 0, 413, 0)


async def test_a_body_within_the_limit_reaches_the_app_whole() -> None:
    client = Client(LIMIT)
    middleware = RequestContextMiddleware(reading_app, max_body_bytes=LIMIT)
    await middleware(
        scope_for((b"content-length", str(LIMIT).encode())), client.receive, client.send
    )
    assert client.status == 200
    assert client.sent[1]["body"] == b'{"read":%d}' % LIMIT
