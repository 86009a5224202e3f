"""Text no database can store is refused before anything is written.

A lone surrogate (``"\\ud800"``) is a valid JSON escape but not Unicode text,
and NUL (``"\\u0000"``) fits neither PostgreSQL's ``text`` nor its ``jsonb``.
Once stored, such a value broke every later read of the account's items.
schemathesis cannot find this (it leaves surrogates out by design), so the
property test below writes the raw JSON itself.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acme.items.models import Item
from acme.items.serializers import item_json, page_json

from . import test_items_api
from .test_items_api import Api, is_problem

# The items API fixtures, on both backends.
api = test_items_api.api
backend = test_items_api.backend

JSON = {"Content-Type": "application/json"}

# Every string field of a create, at every depth of meta (keys included).
POISONED_CREATES = [
    '{"title": "\\ud800"}',
    '{"title": "t", "description": "a\\udfffb"}',
    '{"title": "t", "meta": {"\\ud800": "\\udfff"}}',
    '{"title": "t", "meta": {"k": ["ok", {"deep": "\\udbff"}]}}',
    '{"title": "t", "meta": {"k": "\\u0000"}}',
    '{"title": "t", "tags": ["\\ud800"]}',
]


async def _titles(api: Api) -> list[str]:
    listing = await api.http.get("/items", headers=api.alice)
    assert listing.status_code == 200, listing.text
    return [item["title"] for item in listing.json()["items"]]


@pytest.mark.parametrize("raw", POISONED_CREATES)
async def test_unstorable_text_on_create_stores_nothing(api: Api, raw: str) -> None:
    await api.http.post("/items", json={"title": "kept"}, headers=api.alice)
    refused = await api.http.post("/items", content=raw.encode(), headers=api.alice | JSON)
    is_problem(refused, 422, "validation_failed")
    assert await _titles(api) == ["kept"]


@pytest.mark.parametrize(
    "raw",
    ['{"meta": {"\\ud800": "\\udfff"}}', '{"title": "\\udc00x"}', '{"description": "\\u0000"}'],
)
async def test_unstorable_text_on_update_changes_nothing(api: Api, raw: str) -> None:
    created = await api.http.post(
        "/items", json={"title": "t", "meta": {"a": 1}}, headers=api.alice
    )
    url = f"/items/{created.json()['id']}"
    refused = await api.http.patch(
        url, content=raw.encode(), headers=api.alice | JSON | {"If-Match": '"1"'}
    )
    is_problem(refused, 422, "validation_failed")
    after = await api.http.get(url, headers=api.alice)
    assert after.status_code == 200
    assert after.json() == created.json()


# Any JSON string, written with \u escapes for everything that is not printable
# ASCII: lone surrogates and NUL included, which st.text() leaves out.
_CHARACTERS = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, categories=None)
_ESCAPED_TEXT = st.lists(_CHARACTERS, max_size=12).map("".join)


def _raw_json(value: Any) -> bytes:
    """JSON text with every non-ASCII character (surrogates too) as a \\u escape."""
    return json.dumps(value, ensure_ascii=True).encode()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    title=_ESCAPED_TEXT,
    description=_ESCAPED_TEXT,
    key=_ESCAPED_TEXT,
    value=_ESCAPED_TEXT,
)
async def test_every_string_field_either_round_trips_or_is_refused(
    api: Api, title: str, description: str, key: str, value: str
) -> None:
    body = {"title": title, "description": description, "meta": {key: [value, {"v": value}]}}
    before = len(await _titles_all(api))
    answer = await api.http.post("/items", content=_raw_json(body), headers=api.alice | JSON)
    if answer.status_code == 201:
        stored = answer.json()
        assert (stored["title"], stored["description"], stored["meta"]) == (
            title,
            description,
            body["meta"],
        )
        again = await api.http.get(f"/items/{stored['id']}", headers=api.alice)
        assert again.json() == stored
    else:
        is_problem(answer, 422, "validation_failed")
        assert len(await _titles_all(api)) == before
    # Whatever happened, the account's listing still reads.
    assert (await api.http.get("/items?limit=100", headers=api.alice)).status_code == 200


async def _titles_all(api: Api) -> list[str]:
    listing = await api.http.get("/items?limit=100", headers=api.alice)
    assert listing.status_code == 200, listing.text
    return [item["title"] for item in listing.json()["items"]]


def test_stored_text_that_is_not_unicode_still_encodes() -> None:
    """What was stored before the API refused it reads back, escaped, never a 500."""
    item = Item.new(
        owner_id=uuid.uuid4(),
        title="t\ud800",
        description="",
        tags=[],
        order=0,
        meta={"\udfff": ["\ud800"]},
        now=datetime.now(UTC),
    )
    decoded = json.loads(item_json(item))
    assert (decoded["title"], decoded["meta"]) == ("t\ud800", {"\udfff": ["\ud800"]})
    assert decoded["created_at"].endswith("Z")
    page = json.loads(page_json([item], None))
    assert page["items"] == [decoded]


def _unsealed(order: list[str], values: list[Any]) -> str:
    raw = json.dumps({"o": order, "v": values}).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# What an outside review sent as cursors; each was a 500 before cursors were sealed.
FORGED_CURSORS = [
    ("", _unsealed(["-created_at", "-id"], ["x", "y"])),
    ("", _unsealed(["-created_at", "-id"], [1, 2])),
    ("", _unsealed(["-created_at", "-id"], [1e999, 2])),
    ("", _unsealed(["-created_at", "-id"], [True, 2])),
    ("sort=order&", _unsealed(["order", "id"], [2147483648, {"u": str(uuid.uuid4())}])),
    ("", "bm9wZQ"),
    ("", "x.y.z"),
]


@pytest.mark.parametrize(("query", "cursor"), FORGED_CURSORS)
async def test_a_forged_cursor_is_a_400(api: Api, query: str, cursor: str) -> None:
    answer = await api.http.get(f"/items?{query}cursor={cursor}", headers=api.alice)
    is_problem(answer, 400, "invalid_cursor")


async def _next_cursor(api: Api, query: str, headers: dict[str, str]) -> str:
    for n in range(3):
        await api.http.post("/items", json={"title": f"t{n}", "tags": ["a"]}, headers=headers)
    page = (await api.http.get(f"/items?limit=1&{query}", headers=headers)).json()
    return str(page["next"]).split("cursor=")[1]


async def test_a_cursor_belongs_to_its_account_and_its_filters(api: Api) -> None:
    mine = await _next_cursor(api, "tag=a", api.alice)
    assert (await api.http.get(f"/items?limit=1&tag=a&cursor={mine}", headers=api.alice)).is_success
    bobs = await _next_cursor(api, "tag=a", api.bob)
    is_problem(
        await api.http.get(f"/items?tag=a&cursor={bobs}", headers=api.alice), 400, "invalid_cursor"
    )
    is_problem(
        await api.http.get(f"/items?tag=b&cursor={mine}", headers=api.alice), 400, "invalid_cursor"
    )
    is_problem(
        await api.http.get(f"/items?cursor={mine}", headers=api.alice), 400, "invalid_cursor"
    )


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
async def test_random_and_mutated_cursors_are_a_400(api: Api, data: st.DataObject) -> None:
    real = await _next_cursor(api, "", api.alice) if not hasattr(api, "cursor") else api.cursor
    api.cursor = real  # type: ignore[attr-defined]  # one real cursor per app, mutated many ways
    index = data.draw(st.integers(0, len(real) - 1))
    replacement = data.draw(st.characters(codec="ascii", categories=["L", "N", "P", "S"]))
    mutated = real[:index] + replacement + real[index + 1 :]
    candidate = data.draw(st.one_of(st.just(mutated), st.text(max_size=200)))
    answer = await api.http.get("/items", params={"cursor": candidate}, headers=api.alice)
    if candidate == real:
        assert answer.status_code == 200
    else:
        assert answer.status_code in (400, 422), answer.text  # 422: longer than 2048
        assert answer.json()["code"] in ("invalid_cursor", "validation_failed")


async def test_a_body_nested_too_deeply_is_a_400_not_a_500(api: Api) -> None:
    deep = b"[" * 50_000 + b"]" * 50_000  # 100 kB, well under the body limit
    answer = await api.http.post("/items", content=deep, headers=api.alice | JSON)
    is_problem(answer, 400, "invalid_json")
    # just under the parser's depth: the walk for unstorable text copes with any depth
    nested = b'{"title": "t", "meta": {"k": ' + b"[" * 900 + b'"\\u0000"' + b"]" * 900 + b"}}"
    refused = await api.http.post("/items", content=nested, headers=api.alice | JSON)
    is_problem(refused, 422, "validation_failed")


async def test_a_number_too_long_to_read_is_a_400_not_a_500(api: Api) -> None:
    # Python refuses to turn more than 4,300 digits into an int (sys.get_int_max_str_digits)
    huge = b'{"title": "t", "meta": {"n": ' + b"9" * 5000 + b"}}"
    answer = await api.http.post("/items", content=huge, headers=api.alice | JSON)
    is_problem(answer, 400, "invalid_json")
    anonymous = await api.http.post("/items", content=huge, headers=JSON)
    is_problem(anonymous, 400, "invalid_json")  # the body is read before authentication
