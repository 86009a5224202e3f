"""The hot reads as statements built once per shape, for the driver path on PostgreSQL.

A listing's shape is its sort, which filters it has and whether it starts
after a cursor: at most 4 x 8 x 2 statements, each compiled once. Every
value (the owner, the filters, the cursor's position, the limit) is a
named parameter.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import orjson
from sqlalchemy import Integer, Select, Text, bindparam, cast, func, select, tuple_, type_coerce

from acme.core.persistence import SortKey, parse_order

from .models import SORT_KEYS, Item, ItemFilter, ItemSort
from .tables import PG_TAGS, items

__all__ = [
    "GET_OWNED",
    "from_record",
    "listing",
    "listing_keys",
    "listing_parameters",
    "render_records",
    "rendered_position",
]

GET_OWNED = select(items).where(
    items.c.id == bindparam("item_id"), items.c.owner_id == bindparam("owner_id")
)


def from_record(record: Sequence[Any]) -> Item:
    """An item from a row of ``items``: asyncpg's record or SQLAlchemy's row.

    The columns are the dataclass's fields in order (a test checks it); the
    ``json`` codec SQLAlchemy's dialect installs on each connection has
    already parsed ``meta`` for asyncpg's records.
    """
    return _new_item(*record)


_new_item: Callable[..., Item] = Item

# The columns of a rendered listing: the ids and ``meta`` as PostgreSQL's text
# (``meta`` is a ``json`` column: its text is the JSON as stored), so the rows
# go to JSON without a UUID object or a parsed ``meta`` per row.
_RENDERED = [
    cast(column, Text).label(column.name) if column.name in ("id", "owner_id", "meta") else column
    for column in items.columns
]
_UTC_Z = orjson.OPT_UTC_Z


def render_records(records: Sequence[Any]) -> bytes:
    """Rows of a rendered listing as a JSON array of items (the shape of ``ItemOut``).

    The bytes are what :func:`~acme.items.serializers.items_json` writes for
    the same items, but for ``meta``, which goes out as stored (the same JSON
    value; its spacing is the writer's).

    Raises:
        orjson.JSONEncodeError: a value is not encodable (not valid Unicode).
    """
    fragment = orjson.Fragment
    return orjson.dumps(
        [
            {
                "id": id_,
                "owner_id": owner_id,
                "title": title,
                "description": description,
                "tags": tags,
                "order": order,
                "meta": fragment(meta),
                "created_at": created_at,
                "updated_at": updated_at,
                "version": version,
            }
            # The columns of ``items`` in order (a test checks the dataclass has them so).
            for (
                id_,
                owner_id,
                title,
                description,
                tags,
                order,
                meta,
                created_at,
                updated_at,
                version,
            ) in records
        ],
        option=_UTC_Z,
    )


def rendered_position(record: Any, keys: Sequence[Any]) -> list[Any]:
    """The keyset position of a rendered row (its text ids read back as UUIDs)."""
    return [
        uuid.UUID(record[key.column]) if key.column in ("id", "owner_id") else record[key.column]
        for key in keys
    ]


@cache
def listing_keys(sort: ItemSort) -> tuple[SortKey, ...]:
    """The keyset of a sort: its columns, then the id in the last one's direction."""
    keys = parse_order(SORT_KEYS[sort])
    return (*keys, SortKey("id", keys[-1].descending))


@cache
def listing(
    sort: ItemSort, *, order: bool, tag: bool, prefix: bool, after: bool, rendered: bool = False
) -> Select[Any]:
    """The listing of one shape; its parameters come from :func:`listing_parameters`.

    ``rendered`` selects the columns :func:`render_records` turns into JSON.
    """
    keys = listing_keys(sort)
    columns = [items.c[key.column] for key in keys]
    query = select(*_RENDERED) if rendered else select(items)
    query = query.where(items.c.owner_id == bindparam("owner_id"))
    if order:
        query = query.where(items.c.order == bindparam("order"))
    if tag:
        tags = type_coerce(items.c.tags, PG_TAGS)
        query = query.where(tags.contains(bindparam("tags", type_=PG_TAGS)))
    if prefix:
        length = bindparam("prefix_length", type_=Integer)
        query = query.where(func.substr(items.c.title, 1, length) == bindparam("prefix"))
    if after:
        row = tuple_(*columns)
        position = tuple_(
            *(bindparam(f"after_{i}", type_=column.type) for i, column in enumerate(columns))
        )
        # Every sort runs one way (SORT_KEYS), so one row comparison is the keyset.
        query = query.where(row < position if keys[0].descending else row > position)
    query = query.order_by(
        *(c.desc() if k.descending else c.asc() for c, k in zip(columns, keys, strict=True))
    )
    return query.limit(bindparam("limit", type_=Integer))


def listing_parameters(
    spec: ItemFilter, position: Sequence[Any] | None, limit: int
) -> dict[str, Any]:
    """The parameters of :func:`listing` for one request (``limit`` includes the look-ahead row)."""
    parameters: dict[str, Any] = {"owner_id": spec.owner_id, "limit": limit}
    if spec.order is not None:
        parameters["order"] = spec.order
    if spec.tag is not None:
        parameters["tags"] = [spec.tag]
    if spec.title_prefix is not None:
        parameters["prefix"] = spec.title_prefix
        parameters["prefix_length"] = len(spec.title_prefix)
    if position is not None:
        parameters |= {f"after_{i}": value for i, value in enumerate(position)}
    return parameters
