from __future__ import annotations

import io
import json
import logging

import httpx
import pytest

from acme.core.logging import configure_logging


async def test_a_request_id_is_generated_and_returned(client: httpx.AsyncClient) -> None:
    first = await client.get("/health/live")
    second = await client.get("/health/live")
    assert len(first.headers["x-request-id"]) == 32
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_the_callers_request_id_is_kept(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live", headers={"X-Request-ID": "abc-123.x"})
    assert response.headers["x-request-id"] == "abc-123.x"


@pytest.mark.parametrize("bad", ["x" * 200, "has space", "new\\nline", ""])
async def test_an_unsafe_request_id_is_replaced(client: httpx.AsyncClient, bad: str) -> None:
    response = await client.get("/health/live", headers={"X-Request-ID": bad})
    assert response.headers["x-request-id"] != bad
    assert len(response.headers["x-request-id"]) == 32


async def test_every_log_line_of_a_request_carries_its_id(client: httpx.AsyncClient) -> None:
    stream = io.StringIO()
    handler = configure_logging(fmt="json", stream=stream)
    try:
        await client.get("/health/ready", headers={"X-Request-ID": "rid-77"})
        await client.get("/crash-does-not-exist", headers={"X-Request-ID": "rid-78"})
    finally:
        logging.getLogger().removeHandler(handler)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [r for r in records if r["logger"] == "acme_api.access"]
    assert [(r["request_id"], r["message"]) for r in access] == [
        ("rid-77", "GET /health/ready 200"),
        ("rid-78", "GET /crash-does-not-exist 404"),
    ]
    assert all(isinstance(r["duration_ms"], float) for r in access)
