"""The request context's response headers, on the ASGI messages: one of each header,
the edge's replacing the app's, a route's own Cache-Control kept, every answer covered."""

from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send

from acme_api.middleware import RequestContextMiddleware


async def _app_with_headers(scope: Scope, receive: Receive, send: Send) -> None:
    headers = [
        (b"content-type", b"text/plain"),
        (b"referrer-policy", b"origin"),
        (b"x-request-id", b"spoofed"),
        (b"cache-control", b"private, max-age=60"),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})


async def _failing_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("boom")


def _scope(*headers: tuple[bytes, bytes]) -> Scope:
    return {
        "type": "http",
        "method": "GET",
        "path": "/x",
        "raw_path": b"/x",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"api.example.test"), *headers],
        "scheme": "https",
        "server": ("api.example.test", 443),
    }


async def _answer(
    app: RequestContextMiddleware, scope: Scope
) -> tuple[int, list[tuple[bytes, bytes]]]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], [(bytes(n), bytes(v)) for n, v in sent[0]["headers"]]


def _values(headers: list[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    return [value for key, value in headers if key.lower() == name]


async def test_the_edges_headers_replace_the_apps_and_a_routes_cache_control_is_kept() -> None:
    edge = RequestContextMiddleware(_app_with_headers, max_body_bytes=1024, hsts=True)
    status, headers = await _answer(edge, _scope((b"authorization", b"Bearer x")))
    assert status == 200
    assert _values(headers, b"referrer-policy") == [b"no-referrer"]
    assert _values(headers, b"x-content-type-options") == [b"nosniff"]
    assert _values(headers, b"strict-transport-security") == [
        b"max-age=31536000; includeSubDomains"
    ]
    (request_id,) = _values(headers, b"x-request-id")
    assert request_id != b"spoofed"
    assert len(request_id) == 32
    assert _values(headers, b"cache-control") == [b"private, max-age=60"]


async def test_a_refusal_and_a_500_carry_the_same_headers() -> None:
    small = RequestContextMiddleware(_app_with_headers, max_body_bytes=10)
    status, headers = await _answer(small, _scope((b"content-length", b"11"), (b"cookie", b"a=b")))
    assert status == 413
    assert _values(headers, b"x-content-type-options") == [b"nosniff"]
    assert _values(headers, b"cache-control") == [b"no-store"]
    assert _values(headers, b"connection") == [b"close"]
    hosts = RequestContextMiddleware(
        _app_with_headers, max_body_bytes=10, hosts=frozenset({"api.internal"})
    )
    status, headers = await _answer(hosts, _scope((b"x-request-id", b"req-1")))
    assert status == 400
    assert _values(headers, b"x-request-id") == [b"req-1"]
    assert _values(headers, b"referrer-policy") == [b"no-referrer"]
    failing = RequestContextMiddleware(_failing_app, max_body_bytes=10)
    status, headers = await _answer(failing, _scope())
    assert status == 500
    assert _values(headers, b"content-type") == [b"application/problem+json"]
    assert _values(headers, b"x-content-type-options") == [b"nosniff"]
    assert "cache-control" not in {name.decode() for name, _ in headers}
