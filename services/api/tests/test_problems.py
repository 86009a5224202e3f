"""Every error is RFC 9457 problem details, with the request id and no stack trace."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from acme.core.errors import (
    Conflict,
    FieldError,
    Invalid,
    Malformed,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    Unauthenticated,
    Unavailable,
)
from acme_api.main import create_app
from acme_api.settings import Settings

from .conftest import client_of


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=5)
    count: int
    tags: list[str] = []


ERRORS = {
    "not-found": NotFound("item 7 not found", code="item_not_found"),
    "conflict": Conflict("already there"),
    "stale": PreconditionFailed("version 3 is stale"),
    "forbidden": PermissionDenied("account disabled", code="account_disabled"),
    "unauthenticated": Unauthenticated("token expired", code="token_expired"),
    "invalid": Invalid("bad title", errors=[FieldError(("body", "title"), "too long")]),
    "malformed": Malformed("bad cursor", code="invalid_cursor"),
    "unavailable": Unavailable("broker down"),
}


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(
        settings.model_copy(update={"max_body_bytes": 2048}), configure_logs=False
    )

    @app.get("/raise/{kind}")
    async def raise_domain_error(kind: str) -> None:
        raise ERRORS[kind]

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("secret internals: /etc/passwd line 3")

    @app.post("/payload")
    async def accept(payload: Payload) -> dict[str, int]:
        return {"count": payload.count}

    async with app.router.lifespan_context(app), client_of(app, "http://t") as http:
        yield http


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("not-found", 404, "item_not_found"),
        ("conflict", 409, "conflict"),
        ("stale", 412, "precondition_failed"),
        ("forbidden", 403, "account_disabled"),
        ("unauthenticated", 401, "token_expired"),
        ("invalid", 422, "invalid"),
        ("malformed", 400, "invalid_cursor"),
        ("unavailable", 503, "unavailable"),
    ],
)
async def test_domain_errors_map_to_statuses(
    client: httpx.AsyncClient, kind: str, status: int, code: str
) -> None:
    response = await client.get(f"/raise/{kind}", headers={"X-Request-ID": "trace-1"})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:acme:problem:{code}"
    assert body["instance"] == f"/raise/{kind}"
    assert body["request_id"] == "trace-1"
    assert body["detail"] == ERRORS[kind].detail
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_invalid_lists_its_fields(client: httpx.AsyncClient) -> None:
    body = (await client.get("/raise/invalid")).json()
    assert body["errors"] == [
        {
            "loc": ["body", "title"],
            "pointer": "#/body/title",
            "message": "too long",
            "type": "invalid",
        }
    ]


async def test_validation_names_every_bad_field(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/payload", json={"title": "far too long", "count": "many", "tags": [1], "colour": "red"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    pointers = {error["pointer"] for error in body["errors"]}
    assert pointers == {"#/body/title", "#/body/count", "#/body/tags/0", "#/body/colour"}
    assert body["code"] == "validation_failed"
    assert "4 invalid fields" in body["detail"]


async def test_malformed_json_is_a_400_giving_the_byte_offset(client: httpx.AsyncClient) -> None:
    # "é" is two bytes: the offset counts bytes, not characters.
    response = await client.post(
        "/payload", content='{"title": "é",'.encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["code"], body["offset"]) == ("invalid_json", 15)
    assert "at byte 15" in body["detail"]


async def test_a_body_that_is_not_utf8_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/payload", content=b'{"title": "\xff"}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["offset"]) == ("invalid_json", 11)
    assert "not UTF-8" in body["detail"]


@pytest.mark.parametrize("content_type", ["text/plain", None, "application/x-www-form-urlencoded"])
async def test_a_body_that_is_not_json_is_a_415(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    response = await client.post("/payload", content=b'{"title": "t", "count": 1}', headers=headers)
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    json_suffix = await client.post(
        "/payload",
        content=b'{"title": "t", "count": 1}',
        headers={"content-type": "application/merge-patch+json; charset=utf-8"},
    )
    assert json_suffix.status_code == 200


@pytest.mark.parametrize(
    ("raw", "pointer"),
    [
        ('{"title": "\\ud800", "count": 1}', "#/body/title"),
        ('{"title": "t", "count": 1, "tags": ["a", "\\u0000"]}', "#/body/tags/1"),
        ('{"title": "t", "count": 1, "x": {"\\udfff": 1}}', "#/body/x/\\udfff"),
    ],
)
async def test_text_no_database_can_store_is_a_422_naming_the_field(
    client: httpx.AsyncClient, raw: str, pointer: str
) -> None:
    response = await client.post(
        "/payload", content=raw.encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "validation_failed"
    assert [error["pointer"] for error in body["errors"]] == [pointer]
    paired = await client.post(
        "/payload",
        content=b'{"title": "\\ud83d\\ude00", "count": 1}',
        headers={"content-type": "application/json"},
    )
    assert paired.status_code == 200, "a surrogate pair is one character, and fine"


async def test_unknown_route_and_wrong_method(client: httpx.AsyncClient) -> None:
    missing = await client.get("/nowhere")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    assert missing.headers["content-type"] == "application/problem+json"
    wrong = await client.delete("/health/live")
    assert wrong.status_code == 405
    assert wrong.json()["code"] == "method_not_allowed"
    assert wrong.headers["allow"] == "GET"


async def test_unhandled_errors_are_a_500_without_internals(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await client.get("/crash", headers={"X-Request-ID": "crash-1"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "crash-1"
    body = response.json()
    assert body["code"] == "internal_error"
    assert body["request_id"] == "crash-1"
    assert "passwd" not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" in caplog.text  # the log keeps the details


async def test_oversized_bodies_get_413(client: httpx.AsyncClient) -> None:
    big = {"title": "x", "count": 1, "tags": ["y" * 100] * 30}
    response = await client.post("/payload", json=big)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "payload_too_large"


async def test_oversized_chunked_bodies_get_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"title": "x", "count": 1, "tags": ['
        for _ in range(40):
            yield b'"' + b"y" * 100 + b'",'
        yield b'"z"]}'

    response = await client.post(
        "/payload", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
