"""``/items`` over HTTP, the same tests on both backends.

``embedded`` is the default a fresh clone runs (SQLite, in-process bus);
``postgresql+rabbitmq`` is production's (a fresh PostgreSQL database, the
shared RabbitMQ with an exchange and queues of this test's own).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, Query

from acme.accounts import item_counts
from acme.core.migrations import Migrator
from acme.core.testing import delete_rabbitmq_topology, eventually
from acme.items.serializers import ItemQuery
from acme_api.main import create_app
from acme_api.openapi import query_parameters

from .conftest import client_of, make_settings


@dataclass
class Api:
    """A running app, an HTTP client on it, and tokens for two accounts."""

    app: FastAPI
    http: httpx.AsyncClient
    alice: dict[str, str]
    bob: dict[str, str]

    async def item_count(self, headers: dict[str, str]) -> int:
        me = (await self.http.get("/accounts/me", headers=headers)).json()
        container = self.app.state.container
        async with container.database.unit_of_work() as uow:
            return await item_counts.item_count(uow, uuid.UUID(me["id"]))


@pytest.fixture(params=["embedded", "postgresql+rabbitmq"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """The settings of one backend."""
    if request.param == "embedded":
        return {"database_url": f"sqlite+aiosqlite:///{tmp_path / 'api.db'}"}
    return {
        "database_url": request.getfixturevalue("fresh_postgres_url"),
        "amqp_url": request.getfixturevalue("amqp_url"),
        "amqp_exchange": f"test.{request.getfixturevalue('run_id')}.{uuid.uuid4().hex[:8]}",
    }


@pytest.fixture
async def api(backend: dict[str, Any]) -> AsyncIterator[Api]:
    values = backend
    await asyncio.to_thread(Migrator(values["database_url"]).upgrade)
    settings = make_settings(**values, relay_interval=0.1)
    app = create_app(settings, configure_logs=False)
    async with app.router.lifespan_context(app):
        container = app.state.container
        alice = await container.issue_access_token("alice")
        bob = await container.issue_access_token("bob")
        async with client_of(app, "http://testserver") as http:
            yield Api(
                app,
                http,
                {"Authorization": f"Bearer {alice}"},
                {"Authorization": f"Bearer {bob}"},
            )
        queues = getattr(container.bus, "queue_names", list)()
    if "amqp_url" in values:
        await delete_rabbitmq_topology(values["amqp_url"], values["amqp_exchange"], queues)


def is_problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code
    return body


async def test_create_then_read_it_back(api: Api) -> None:
    sent = {"title": "first", "tags": ["a", "b", "a"], "order": 7, "meta": {"k": [1, "x"]}}
    created = await api.http.post("/items", json=sent, headers=api.alice)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["tags"] == ["a", "b"]
    assert (body["title"], body["order"], body["meta"], body["version"]) == (
        "first",
        7,
        {"k": [1, "x"]},
        1,
    )
    location = created.headers["location"]
    assert location == f"http://127.0.0.1:8000/items/{body['id']}"  # ACME_PUBLIC_URL, not Host
    assert created.headers["etag"] == '"1"'
    fetched = await api.http.get(location, headers=api.alice)
    assert fetched.status_code == 200
    assert fetched.json() == body
    assert fetched.headers["etag"] == '"1"'
    unchanged = await api.http.get(location, headers=api.alice | {"If-None-Match": '"1"'})
    assert unchanged.status_code == 304
    await eventually(lambda: api.item_count(api.alice), 1)


async def test_update_needs_the_current_version(api: Api) -> None:
    created = (await api.http.post("/items", json={"title": "v1"}, headers=api.alice)).json()
    url = f"/items/{created['id']}"
    missing = await api.http.patch(url, json={"title": "v2"}, headers=api.alice)
    is_problem(missing, 428, "precondition_required")
    changed = await api.http.patch(
        url, json={"title": "v2", "order": 3}, headers=api.alice | {"If-Match": '"1"'}
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == '"2"'
    assert (changed.json()["title"], changed.json()["order"]) == ("v2", 3)
    stale = await api.http.patch(url, json={"title": "v3"}, headers=api.alice | {"If-Match": '"1"'})
    is_problem(stale, 412, "item_version_mismatch")
    weak = await api.http.patch(
        url, json={"title": "v3"}, headers=api.alice | {"If-Match": 'W/"2"'}
    )
    is_problem(weak, 412)
    anyversion = await api.http.patch(
        url, json={"title": "v3"}, headers=api.alice | {"If-Match": "*"}
    )
    assert anyversion.json()["version"] == 3
    assert (await api.http.get(url, headers=api.alice)).json()["title"] == "v3"


async def test_delete(api: Api) -> None:
    created = (await api.http.post("/items", json={"title": "gone"}, headers=api.alice)).json()
    url = f"/items/{created['id']}"
    await eventually(lambda: api.item_count(api.alice), 1)
    stale = await api.http.delete(url, headers=api.alice | {"If-Match": '"7"'})
    is_problem(stale, 412)
    deleted = await api.http.delete(url, headers=api.alice)
    assert deleted.status_code == 204
    assert deleted.content == b""
    is_problem(await api.http.get(url, headers=api.alice), 404, "item_not_found")
    is_problem(await api.http.delete(url, headers=api.alice), 404)
    await eventually(lambda: api.item_count(api.alice), 0)


async def test_listing_filters_pages_and_links(api: Api) -> None:
    for n in range(7):
        body = {
            "title": f"{'Apple' if n % 2 else 'pear'} {n}",
            "order": n % 3,
            "tags": [f"t{n % 2}"],
        }
        assert (await api.http.post("/items", json=body, headers=api.alice)).status_code == 201
    await api.http.post("/items", json={"title": "Apple of bob", "order": 1}, headers=api.bob)

    async def walk(query: str) -> list[str]:
        titles: list[str] = []
        url: str | None = f"/items?{query}"
        while url is not None:
            page = await api.http.get(url, headers=api.alice)
            assert page.status_code == 200, page.text
            document = page.json()
            titles.extend(item["title"] for item in document["items"])
            url = document["next"]
            if url is not None:
                assert page.headers["link"] == f'<{url}>; rel="next"'
        return titles

    newest_first = [f"{'Apple' if n % 2 else 'pear'} {n}" for n in reversed(range(7))]
    assert await walk("limit=2") == newest_first
    assert await walk("limit=3&sort=created_at") == list(reversed(newest_first))
    assert await walk("order=1&limit=1") == ["pear 4", "Apple 1"]
    assert await walk("tag=t1") == ["Apple 5", "Apple 3", "Apple 1"]
    assert await walk("title_prefix=Apple&order=2") == ["Apple 5"]
    by_order = sorted(range(7), key=lambda n: (n % 3, n))  # ties: oldest first
    assert await walk("sort=order&limit=2") == [newest_first[6 - n] for n in by_order]
    await eventually(lambda: api.item_count(api.alice), 7)
    await eventually(lambda: api.item_count(api.bob), 1)


async def test_bad_input_is_a_problem_naming_each_field(api: Api) -> None:
    bad = await api.http.post(
        "/items", json={"title": "", "order": "high", "colour": "red"}, headers=api.alice
    )
    body = is_problem(bad, 422, "validation_failed")
    pointers = {error["pointer"] for error in body["errors"]}
    assert pointers == {"#/body/title", "#/body/order", "#/body/colour"}
    not_json = await api.http.post(
        "/items", content=b"{", headers=api.alice | {"Content-Type": "application/json"}
    )
    is_problem(not_json, 400, "invalid_json")
    null = await api.http.post("/items", json={"title": "t"}, headers=api.alice)
    patch = await api.http.patch(
        f"/items/{null.json()['id']}",
        json={"title": None},
        headers=api.alice | {"If-Match": '"1"'},
    )
    assert {e["pointer"] for e in is_problem(patch, 422)["errors"]} == {"#/body/title"}
    for query, pointers in [
        ("limit=101", {"#/query/limit"}),
        ("limit=0", {"#/query/limit"}),
        ("colour=red", {"#/query/colour"}),
        ("sort=title", {"#/query/sort"}),
        ("order=x&limit=y", {"#/query/order", "#/query/limit"}),
    ]:
        listed = is_problem(await api.http.get(f"/items?{query}", headers=api.alice), 422)
        assert {error["pointer"] for error in listed["errors"]} == pointers, query
    is_problem(await api.http.get("/items/not-a-uuid", headers=api.alice), 422)
    cursor = await api.http.get("/items?cursor=bm9wZQ", headers=api.alice)
    assert is_problem(cursor, 400, "invalid_cursor")["errors"][0]["loc"] == ["query", "cursor"]


def test_the_listing_documents_its_query_as_fastapi_would() -> None:
    # list_items validates its query string itself (item_query); the document
    # must still say what FastAPI says for an ItemQuery query model.
    reference = FastAPI()

    @reference.get("/items")
    async def listed(query: Annotated[ItemQuery, Query()]) -> None: ...

    expected = reference.openapi()["paths"]["/items"]["get"]["parameters"]
    served = create_app(make_settings(), configure_logs=False).openapi()
    assert served["paths"]["/items"]["get"]["parameters"] == expected
    assert query_parameters(ItemQuery) == expected


async def test_a_cursor_only_fits_its_own_sort(api: Api) -> None:
    for n in range(3):
        await api.http.post("/items", json={"title": f"t{n}"}, headers=api.alice)
    first = (await api.http.get("/items?limit=1", headers=api.alice)).json()
    cursor = first["next"].split("cursor=")[1]
    other = await api.http.get(f"/items?sort=order&cursor={cursor}", headers=api.alice)
    is_problem(other, 400, "invalid_cursor")


async def test_a_body_over_the_limit_is_413(api: Api) -> None:
    huge = {"title": "t", "description": "x" * (1024 * 1024 + 1)}
    is_problem(await api.http.post("/items", json=huge, headers=api.alice), 413)


async def test_every_route_needs_a_token(api: Api) -> None:
    some = uuid.uuid4()
    for method, url in [
        ("POST", "/items"),
        ("GET", "/items"),
        ("GET", f"/items/{some}"),
        ("PATCH", f"/items/{some}"),
        ("DELETE", f"/items/{some}"),
    ]:
        response = await api.http.request(method, url, json={"title": "t"})
        assert is_problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")
        forged = await api.http.request(
            method, url, json={"title": "t"}, headers={"Authorization": "Bearer not.a.token"}
        )
        is_problem(forged, 401)


async def test_an_account_cannot_touch_another_accounts_items(api: Api) -> None:
    mine = (await api.http.post("/items", json={"title": "alice's"}, headers=api.alice)).json()
    url = f"/items/{mine['id']}"
    is_problem(await api.http.get(url, headers=api.bob), 404, "item_not_found")
    listing = (await api.http.get("/items", headers=api.bob)).json()
    assert listing == {"items": [], "next": None}
    changed = await api.http.patch(
        url, json={"title": "bob's"}, headers=api.bob | {"If-Match": '"1"'}
    )
    is_problem(changed, 404)
    is_problem(await api.http.patch(url, json={}, headers=api.bob | {"If-Match": "*"}), 404)
    is_problem(await api.http.delete(url, headers=api.bob), 404)
    still = await api.http.get(url, headers=api.alice)
    assert still.json() == mine
    assert (
        still.json()["owner_id"]
        != (await api.http.get("/accounts/me", headers=api.bob)).json()["id"]
    )
