from __future__ import annotations

import json
import uuid

import pytest
from pydantic import ValidationError

from acme.items.models import Item
from acme.items.serializers import (
    ItemCreate,
    ItemOut,
    ItemPageOut,
    ItemPatch,
    ItemQuery,
    item_json,
    page_json,
)


def item() -> Item:
    return Item.new(
        owner_id=uuid.uuid4(), title="t", tags=["a"], order=-3, meta={"k": {"n": [1, 2.5, None]}}
    )


def test_the_fast_json_is_exactly_what_the_documented_model_says() -> None:
    one = item()
    raw = item_json(one)
    documented = ItemOut.model_validate_json(raw)
    assert json.loads(documented.model_dump_json()) == json.loads(raw)
    assert set(json.loads(raw)) == set(ItemOut.model_fields)
    page = page_json([one, item()], "http://x/items?cursor=abc")
    documented_page = ItemPageOut.model_validate_json(page)
    assert json.loads(documented_page.model_dump_json()) == json.loads(page)
    assert json.loads(page_json([], None)) == {"items": [], "next": None}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "a\x00b"}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "t", "description": "\x00"}, "description"),
        ({"title": "t", "tags": ["has space"]}, "tags"),
        ({"title": "t", "tags": [f"t{n}" for n in range(21)]}, "tags"),
        ({"title": "t", "order": 2**31}, "order"),
        ({"title": "t", "meta": {"x": float("inf")}}, "meta"),
        ({"title": "t", "meta": {str(n): n for n in range(65)}}, "meta"),
        ({"title": "t", "owner_id": str(uuid.uuid4())}, "owner_id"),
    ],
)
def test_bad_input_names_the_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ItemCreate.model_validate(body)
    assert field in {str(error["loc"][0]) for error in caught.value.errors()}


def test_a_patch_knows_what_was_sent_and_refuses_null() -> None:
    assert ItemPatch.model_validate({"order": 2}).changes() == {"order": 2}
    assert ItemPatch.model_validate({}).changes() == {}
    with pytest.raises(ValidationError) as caught:
        ItemPatch.model_validate({"title": None})
    assert caught.value.errors()[0]["loc"] == ("title",)
    with pytest.raises(ValidationError):
        ItemPatch.model_validate({"version": 3})
    schema = ItemPatch.model_json_schema()
    assert schema["properties"]["title"].get("type") == "string"  # null is not advertised


def test_queries_cap_the_page_size_and_know_their_sorts() -> None:
    assert ItemQuery().limit == 50
    with pytest.raises(ValidationError):
        ItemQuery(limit=101)
    with pytest.raises(ValidationError):
        ItemQuery.model_validate({"sort": "title"})
    with pytest.raises(ValidationError):
        ItemQuery.model_validate({"unknown": 1})


@pytest.mark.parametrize(("sent", "kept"), [(3, 3), (3.0, 3), (-2, -2)])
def test_an_order_is_a_json_integer(sent: object, kept: int) -> None:
    assert ItemCreate.model_validate({"title": "t", "order": sent}).order == kept


@pytest.mark.parametrize("sent", [True, False, "3", 3.5, None, float("nan")])
def test_an_order_is_nothing_else(sent: object) -> None:
    with pytest.raises(ValidationError):
        ItemCreate.model_validate({"title": "t", "order": sent})
