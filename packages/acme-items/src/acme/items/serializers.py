"""The shapes items take at the edge: validated input and the JSON output.

Input is validated once, by these models. Output skips pydantic models
altogether on the hot path: :func:`item_json` and :func:`page_json` let
pydantic-core serialise the :class:`~acme.items.models.Item` dataclasses
straight to JSON bytes. :class:`ItemOut` and :class:`ItemPageOut` describe
that same JSON for the OpenAPI document (a test keeps the two in step).
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    TypeAdapter,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticSerializationError

from .models import (
    DESCRIPTION_MAX,
    ORDER_MAX,
    ORDER_MIN,
    SORT_KEYS,
    TAG_MAX,
    TAGS_MAX,
    TITLE_MAX,
    Item,
    ItemSort,
    RenderedPage,  # published here first; a domain value, so it lives in models
)

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "SORTS",
    "ItemCreate",
    "ItemOut",
    "ItemPageOut",
    "ItemPatch",
    "ItemQuery",
    "RenderedPage",
    "item_json",
    "items_json",
    "page_json",
    "rendered_page_json",
]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
META_MAX_KEYS = 64
SORTS = tuple(SORT_KEYS)


def _text(value: str) -> str:
    # A lone surrogate is a valid JSON escape but not text: no database stores it
    # and no response could carry it. NUL fits neither text nor jsonb on PostgreSQL.
    if "\x00" in value:
        raise ValueError("text may not contain NUL (\\u0000)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text may not contain a lone surrogate (\\ud800-\\udfff)") from None
    return value


# No NUL characters or lone surrogates anywhere (see _text) and a title that
# is more than whitespace.
Title = Annotated[
    str,
    StringConstraints(min_length=1, max_length=TITLE_MAX, pattern=r"^[^\x00]*[^\s\x00][^\x00]*$"),
    AfterValidator(_text),
]
Description = Annotated[
    str,
    StringConstraints(max_length=DESCRIPTION_MAX, pattern=r"^[^\x00]*$"),
    AfterValidator(_text),
]
Tag = Annotated[
    str, StringConstraints(min_length=1, max_length=TAG_MAX, pattern=r"^[A-Za-z0-9][\w.:-]*$")
]
Tags = Annotated[list[Tag], Field(max_length=TAGS_MAX)]


def _json_integer(value: Any) -> Any:
    # JSON Schema's integer: `3` and `3.0`, never `true` nor `"3"` (pydantic's lax
    # mode would take both); the query string's text is parsed separately.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be an integer")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("must be an integer")
    return int(value)


Order = Annotated[int, Field(ge=ORDER_MIN, le=ORDER_MAX), BeforeValidator(_json_integer)]
OrderQuery = Annotated[int, Field(ge=ORDER_MIN, le=ORDER_MAX)]


def _storable(value: Any) -> None:
    """Every number finite and every string (key or value) text, at any depth."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite")
    if isinstance(value, str):
        _text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _text(key)
            _storable(item)
    elif isinstance(value, list):
        for item in value:
            _storable(item)


def _check_meta(value: dict[str, JsonValue]) -> dict[str, JsonValue]:
    _storable(value)
    return value


Meta = Annotated[
    dict[str, JsonValue],
    Field(max_length=META_MAX_KEYS, description="any JSON object, up to 64 keys"),
    AfterValidator(_check_meta),
]


class ItemCreate(BaseModel):
    """A new item. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Title
    description: Description = ""
    tags: Tags = Field(default_factory=list, description="duplicates are dropped")
    order: Order = 0
    meta: Meta = Field(default_factory=dict)


class ItemPatch(BaseModel):
    """Fields to change; absent fields stay as they are. ``null`` is refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Title | SkipJsonSchema[None] = None
    description: Description | SkipJsonSchema[None] = None
    tags: Tags | SkipJsonSchema[None] = None
    order: Order | SkipJsonSchema[None] = None
    meta: Meta | SkipJsonSchema[None] = None

    @field_validator("*", mode="after")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Only sent fields are validated: a None here was sent as null.
        if value is None:
            raise ValueError("may not be null; leave the field out to keep it")
        return value

    def changes(self) -> dict[str, Any]:
        """The fields that were sent, with their values."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class ItemQuery(BaseModel):
    """Filters and paging of a listing (always of the caller's own items)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order: OrderQuery | None = Field(None, description="only items with this order")
    tag: Tag | None = Field(None, description="only items carrying this tag")
    title_prefix: (
        Annotated[str, StringConstraints(min_length=1, max_length=TITLE_MAX, pattern=r"^[^\x00]*$")]
        | None
    ) = Field(None, description="only items whose title starts with this (case-sensitive)")
    sort: ItemSort = Field("-created_at", description="newest first by default; ties broken by id")
    cursor: Annotated[str, StringConstraints(max_length=2048)] | None = Field(
        None, description="the `next` cursor of the previous page"
    )
    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="page size")


class ItemOut(BaseModel):
    """An item as the API returns it."""

    id: uuid.UUID
    owner_id: uuid.UUID
    title: str
    description: str
    tags: list[str]
    order: int
    meta: dict[str, JsonValue]
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="grows with every change; an update names the one it saw")


class ItemPageOut(BaseModel):
    """One page of items, and the URL of the next page (``null`` on the last)."""

    items: list[ItemOut]
    next: str | None


@dataclass(slots=True)
class _Page:
    items: list[Item]
    next: str | None


_item_adapter: TypeAdapter[Item] = TypeAdapter(Item)
_page_adapter: TypeAdapter[_Page] = TypeAdapter(_Page)
_items_adapter: TypeAdapter[list[Item]] = TypeAdapter(list[Item])


def item_json(item: Item) -> bytes:
    """One item as JSON bytes (the shape of :class:`ItemOut`)."""
    try:
        return _item_adapter.dump_json(item)
    except PydanticSerializationError:
        return _escaped_json(_item_adapter.dump_python(item))


def page_json(items: list[Item], next_url: str | None) -> bytes:
    """A page as JSON bytes (the shape of :class:`ItemPageOut`)."""
    page = _Page(items, next_url)
    try:
        return _page_adapter.dump_json(page)
    except PydanticSerializationError:
        return _escaped_json(_page_adapter.dump_python(page))


def items_json(items: list[Item]) -> bytes:
    """Items as a JSON array (each in the shape of :class:`ItemOut`)."""
    try:
        return _items_adapter.dump_json(items)
    except PydanticSerializationError:
        return _escaped_json(_items_adapter.dump_python(items))


def rendered_page_json(page: RenderedPage, next_url: str | None) -> bytes:
    """A rendered page as the JSON of :class:`ItemPageOut`, ``next`` being ``next_url``."""
    # A URL the API built itself: ASCII, and json.dumps escapes anything else.
    return b'{"items":%b,"next":%b}' % (page.items_json, json.dumps(next_url).encode())


def _escaped_json(value: Any) -> bytes:
    """JSON of stored text that is not valid Unicode (a lone surrogate written before
    the API refused them): escaped as ``\\udXXX``, so the item still reads, unchanged.

    pydantic-core cannot encode such a string at all; this slower path runs only then.
    """
    return json.dumps(
        value, ensure_ascii=True, separators=(",", ":"), default=_json_default
    ).encode()


def _json_default(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        # pydantic's spelling of UTC, so both paths print the same timestamps
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(f"cannot encode {type(value).__name__}")
