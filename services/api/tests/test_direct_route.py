"""DirectRoute: ordinary requests skip FastAPI's dependency solving; every other request,
and every answer, is the same as FastAPI's own handler gives.

Each request below is sent to two apps on one database: the app as built, and
the same app with a dependency override in place, which sends every request
through FastAPI's handler. Their answers must agree, errors included.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import fastapi.routing
import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request, Response
from pydantic import AfterValidator, BaseModel

from acme.core.migrations import Migrator
from acme_api.direct_route import DirectRoute, plan_for
from acme_api.main import create_app
from acme_api.routes import auth, items

from .conftest import client_of, make_settings


def _never() -> None:  # pragma: no cover - only its presence in the overrides matters
    raise AssertionError("overridden dependency called")


@pytest.fixture
async def twins(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, str]]:
    """Clients of the app as built and of its twin that always takes FastAPI's handler."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'api.db'}"
    await asyncio.to_thread(Migrator(url).upgrade)
    settings = make_settings(database_url=url)
    direct, full = (
        create_app(settings, configure_logs=False),
        create_app(settings, configure_logs=False),
    )
    full.dependency_overrides[_never] = _never  # overrides present: FastAPI's handler, always
    async with direct.router.lifespan_context(direct), full.router.lifespan_context(full):
        token = await direct.state.container.issue_access_token("alice")
        async with (
            client_of(direct, "http://testserver") as a,
            client_of(full, "http://testserver") as b,
        ):
            yield a, b, token


def _comparable(response: httpx.Response) -> tuple[int, str | None, Any]:
    """Status, content type and body, without what differs per request (ids, times)."""
    text = response.text
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT[0-9:.]+(Z|[+-]\d\d:\d\d)?", "<time>", text)
    text = re.sub(r'"(request_id|instance)":"[^"]*"', r'"\1":"<id>"', text)
    return response.status_code, response.headers.get("content-type"), text


def test_the_items_routes_have_a_direct_plan() -> None:
    planned = {
        (route.path, method)
        for route in items.router.routes
        if isinstance(route, DirectRoute) and plan_for(route) is not None
        for method in route.methods or ()
    }
    pairs = [("", "GET"), ("", "POST")]
    pairs += [("/{item_id}", method) for method in ("GET", "PATCH", "DELETE")]
    assert planned == {(f"/items{path}", method) for path, method in pairs}
    # A route with query or cookie parameters keeps FastAPI's handler.
    callback = next(r for r in auth.router.routes if getattr(r, "path", "") == "/auth/callback")
    assert isinstance(callback, DirectRoute)
    assert plan_for(callback) is None


async def test_an_ordinary_request_does_not_solve_dependencies(
    twins: tuple[httpx.AsyncClient, httpx.AsyncClient, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    direct, full, token = twins
    solved: list[str] = []
    original = fastapi.routing.solve_dependencies  # type: ignore[attr-defined]

    async def counting(*args: Any, **kwargs: Any) -> Any:
        solved.append(kwargs["request"].url.path)
        return await original(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counting)
    auth = {"Authorization": f"Bearer {token}"}
    created = await direct.post("/items", json={"title": "a", "meta": {"k": 1}}, headers=auth)
    assert created.status_code == 201, created.text
    item = created.json()["id"]
    assert (await direct.get(f"/items/{item}", headers=auth)).status_code == 200
    assert (await direct.get("/items?limit=5", headers=auth)).status_code == 200
    assert solved == []
    # The twin solves them, every time.
    assert (await full.get(f"/items/{item}", headers=auth)).status_code == 200
    assert solved == [f"/items/{item}"]


async def test_every_answer_matches_fastapis_handler(
    twins: tuple[httpx.AsyncClient, httpx.AsyncClient, str],
) -> None:
    direct, full, token = twins
    auth = {"Authorization": f"Bearer {token}"}
    as_json = {"Content-Type": "application/json"}
    created = await direct.post("/items", json={"title": "kept", "order": 2}, headers=auth)
    item = created.json()["id"]
    missing = uuid.uuid4()
    requests: list[tuple[str, str, dict[str, str], bytes | None]] = [
        (
            "POST",
            "/items",
            auth | as_json,
            b'{"title": "t", "tags": ["x", "x"], "meta": {"a": [1]}}',
        ),
        ("POST", "/items", auth | as_json, b'{"title": "t", "order": 1.0}'),
        ("POST", "/items", auth | as_json, b'{"title": "t", "order": "3"}'),
        (
            "POST",
            "/items",
            auth | {"Content-Type": "application/json; charset=UTF-8"},
            b'{"title": "u"}',
        ),
        ("POST", "/items", auth | {"Content-Type": "application/vnd.x+json"}, b'{"title": "v"}'),
        ("POST", "/items", auth | as_json, b'{"title": "t", "extra": 1}'),
        ("POST", "/items", auth | as_json, b'{"title": ""}'),
        ("POST", "/items", auth | as_json, b'{"title": "t",}'),
        ("POST", "/items", auth | as_json, b'{"title": "\\u00e9t\\u00e9"}'),
        ("POST", "/items", auth | as_json, b'{"title": "a\\u0000b"}'),
        ("POST", "/items", auth | as_json, b'{"title": "\\ud800"}'),
        ("POST", "/items", auth | as_json, b'{"title": "t", "order": NaN}'),
        ("POST", "/items", auth | as_json, b"\xef\xbb\xbf{}"),
        ("POST", "/items", auth | as_json, b"[" * 5000),
        ("POST", "/items", auth | as_json, b""),
        ("POST", "/items", auth | {"Content-Type": "text/plain"}, b'{"title": "t"}'),
        ("POST", "/items", as_json, b'{"title": "t"}'),
        ("POST", "/items", as_json, b'{"title": ""}'),
        ("POST", "/items", as_json, b"{nope"),
        ("POST", "/items", {"Authorization": "Bearer nope"} | as_json, b'{"title": "t"}'),
        ("GET", f"/items/{item}", auth, None),
        ("GET", f"/items/{item}", auth | {"If-None-Match": '"1"'}, None),
        ("GET", f"/items/{item}", auth | {"If-None-Match": "x" * 2000}, None),
        ("GET", f"/items/{missing}", auth, None),
        ("GET", "/items/not-a-uuid", auth, None),
        ("GET", "/items/not-a-uuid", {}, None),
        ("GET", "/items?limit=2&order=2", auth, None),
        ("GET", "/items?limit=0", auth, None),
        ("GET", "/items?cursor=forged", auth, None),
        ("GET", "/items", {"Cookie": "acme_access=forged"}, None),
        ("PATCH", f"/items/{item}", auth | as_json, b'{"title": "same"}'),
        ("PATCH", f"/items/{missing}", auth | as_json | {"If-Match": '"1"'}, b'{"title": "x"}'),
        ("PATCH", f"/items/{item}", auth | as_json | {"If-Match": '"9"'}, b'{"title": "x"}'),
        ("PATCH", f"/items/{item}", auth | as_json | {"If-Match": '"1"'}, b'{"title": null}'),
        ("DELETE", f"/items/{missing}", auth, None),
        ("DELETE", f"/items/{item}", auth | {"If-Match": '"7"'}, None),
        ("GET", "/accounts/me", auth, None),
    ]
    for method, path, headers, body in requests:
        a = await direct.request(method, path, headers=headers, content=body)
        b = await full.request(method, path, headers=headers, content=body)
        assert _comparable(a) == _comparable(b), (method, path, headers, body)
        assert a.status_code < 500, (method, path, a.text)


class _Body(BaseModel):
    n: int


def _positive(body: _Body) -> _Body:
    if body.n <= 0:
        raise ValueError("n must be positive")
    return body


def _small_app() -> tuple[FastAPI, APIRouter, list[str]]:
    """A bare app whose routes are DirectRoutes, and a log of the endpoints called."""
    called: list[str] = []
    router = APIRouter(route_class=DirectRoute)

    @router.post("/checked")
    async def checked(body: Annotated[_Body, AfterValidator(_positive)]) -> Response:
        called.append("checked")
        return Response(str(body.n))

    @router.get("/aliased")
    async def aliased(
        token: Annotated[str | None, Header(validation_alias="x-token")] = None,
    ) -> Response:
        called.append("aliased")
        return Response(token or "none")

    @router.get("/plain")
    async def plain(request: Request) -> Response:
        called.append("plain")
        return Response("plain")

    return FastAPI(), router, called


async def _gate(request: Request) -> None:
    if request.headers.get("x-let-in") != "yes":
        raise HTTPException(403, "no")


async def test_what_the_fast_path_cannot_read_the_same_way_is_fastapis() -> None:
    app, router, called = _small_app()
    app.include_router(router)
    planned = {route.path: plan_for(route) is not None for route in router.routes}
    assert planned == {"/checked": False, "/aliased": False, "/plain": True}
    async with client_of(app, "http://testserver") as http:
        refused = await http.post("/checked", json={"n": -1})
        assert refused.status_code == 422  # the parameter's own validator ran
        assert (await http.get("/aliased", headers={"x-token": "abc"})).text == "abc"
    assert called == ["aliased"]


async def test_an_includers_dependencies_run_on_the_fast_path() -> None:
    app, router, called = _small_app()
    app.include_router(router, prefix="/gated", dependencies=[Depends(_gate)])
    async with client_of(app, "http://testserver") as http:
        assert (await http.get("/gated/plain")).status_code == 403
        assert called == []
        assert (await http.get("/gated/plain", headers={"x-let-in": "yes"})).text == "plain"
    assert called == ["plain"]
