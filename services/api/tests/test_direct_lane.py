"""DirectLane: ordinary requests to the items routes are answered without FastAPI's router;
everything else, and every dependency the lane could not apply, is FastAPI's.

That the lane's answers equal FastAPI's, errors included, is
``test_direct_route.test_every_answer_matches_fastapis_handler`` (its twin
app has a dependency override, which keeps the lane aside).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from starlette.types import Receive, Scope, Send

from acme.core.migrations import Migrator
from acme_api.dependencies import BearerAccount
from acme_api.direct_lane import DirectLane, include_direct
from acme_api.direct_route import DirectRoute
from acme_api.main import create_app

from .conftest import client_of, make_settings


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """A client of the production app on SQLite, and a signed-in account's headers."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'api.db'}"
    await asyncio.to_thread(Migrator(url).upgrade)
    app = create_app(make_settings(database_url=url), configure_logs=False)
    async with app.router.lifespan_context(app):
        token = await app.state.container.issue_access_token("alice")
        async with client_of(app, "http://testserver") as http:
            yield http, {"Authorization": f"Bearer {token}"}


@pytest.fixture
def routed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the requests FastAPI's router hands to a DirectRoute."""
    paths: list[str] = []
    original = DirectRoute.handle

    async def handle(self: DirectRoute, scope: Scope, receive: Receive, send: Send) -> None:
        paths.append(f"{scope['method']} {scope['path']}")
        await original(self, scope, receive, send)

    monkeypatch.setattr(DirectRoute, "handle", handle)
    return paths


async def test_ordinary_requests_do_not_reach_fastapis_router(
    served: tuple[httpx.AsyncClient, dict[str, str]], routed: list[str]
) -> None:
    http, auth = served
    created = await http.post("/items", json={"title": "a", "order": 1}, headers=auth)
    assert created.status_code == 201, created.text
    item = created.json()["id"]
    assert (await http.get(f"/items/{item}", headers=auth)).json()["title"] == "a"
    assert (await http.get("/items?order=1", headers=auth)).json()["items"][0]["id"] == item
    patched = await http.patch(
        f"/items/{item}", json={"title": "b"}, headers=auth | {"If-Match": '"1"'}
    )
    assert patched.status_code == 200, patched.text
    assert (await http.delete(f"/items/{item}", headers=auth)).status_code == 204
    # Answered on the lane by the app's problem handlers: still not routed.
    missing = await http.get(f"/items/{item}", headers=auth)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert (await http.get("/items")).status_code == 401
    assert routed == []
    # Another route, and a method the items routes do not take, are FastAPI's.
    assert (await http.get("/accounts/me", headers=auth)).status_code == 200
    assert (await http.put("/items", headers=auth)).status_code == 405


async def test_a_body_the_plan_does_not_take_reaches_fastapi_whole(
    served: tuple[httpx.AsyncClient, dict[str, str]], routed: list[str]
) -> None:
    http, auth = served
    # A \u escape: the plan reads the body, then leaves the request to FastAPI's handler,
    # which must get the same bytes (an empty body would be a 422).
    created = await http.post(
        "/items",
        content=b'{"title": "\\u00e9t\\u00e9", "order": 4}',
        headers=auth | {"Content-Type": "application/json"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["title"] == "\u00e9t\u00e9"
    assert created.json()["order"] == 4
    assert routed == ["POST /items"]


async def _gate(request: Request) -> None:
    if request.headers.get("x-let-in") != "yes":
        raise HTTPException(403, "no")


def _gated_app(*, on_app: bool) -> FastAPI:
    """A DirectRoute behind a gate the route's own plan does not know of: the app's
    dependencies, or the router's."""
    app = FastAPI(dependencies=[Depends(_gate)] if on_app else None)
    router = APIRouter(route_class=DirectRoute, dependencies=None if on_app else [Depends(_gate)])

    @router.get("/plain")
    async def plain(request: Request) -> Response:
        return Response("plain")

    app.add_middleware(DirectLane)
    include_direct(app, router)
    return app


@pytest.mark.parametrize("on_app", [True, False], ids=["app", "router"])
async def test_dependencies_around_a_route_are_never_skipped(on_app: bool) -> None:
    async with client_of(_gated_app(on_app=on_app), "http://testserver") as http:
        assert (await http.get("/plain")).status_code == 403
        let_in = await http.get("/plain", headers={"x-let-in": "yes"})
        assert let_in.text == "plain"


@pytest.mark.parametrize("laned", [True, False], ids=["include_direct", "include_router"])
async def test_only_routers_included_for_the_lane_are_laned(laned: bool, routed: list[str]) -> None:
    app = FastAPI()
    router = APIRouter(route_class=DirectRoute)

    @router.get("/plain")
    async def plain(request: Request) -> Response:
        return Response("plain")

    app.add_middleware(DirectLane)
    if laned:
        include_direct(app, router)
    else:
        app.include_router(router)
    async with client_of(app, "http://testserver") as http:
        assert (await http.get("/plain")).text == "plain"
    assert routed == ([] if laned else ["GET /plain"])


async def test_a_declined_request_runs_its_dependencies_twice_not_three_times(
    served: tuple[httpx.AsyncClient, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    http, auth = served
    calls: list[str] = []
    original = BearerAccount.__call__

    async def counting(self: BearerAccount, request: Request) -> Any:
        calls.append(request.url.path)
        return await original(self, request)

    monkeypatch.setattr(BearerAccount, "__call__", counting)
    # The plan authenticates, then declines the path parameter; FastAPI's handler
    # authenticates again and answers the 422. The route's own plan is not run again.
    answer = await http.get("/items/not-a-uuid", headers=auth)
    assert answer.status_code == 422
    assert calls == ["/items/not-a-uuid"] * 2


class _Teapot(Exception):
    pass


def _sync_handler(request: Request, exc: Exception) -> Response:
    return Response("short and stout", status_code=418)


@pytest.mark.parametrize("handler", [_sync_handler, functools.partial(_sync_handler)])
async def test_the_apps_exception_handlers_answer_on_the_lane(handler: Any) -> None:
    app = FastAPI()
    router = APIRouter(route_class=DirectRoute)

    @router.get("/pot")
    async def pot(request: Request) -> Response:
        raise _Teapot

    app.add_exception_handler(_Teapot, handler)
    app.add_middleware(DirectLane)
    include_direct(app, router)
    async with client_of(app, "http://testserver") as http:
        answer = await http.get("/pot")
    assert (answer.status_code, answer.text) == (418, "short and stout")
