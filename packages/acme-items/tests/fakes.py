"""In-memory fakes of the items ports, kept honest by test_use_cases.py.

That suite runs every use case on these fakes and on the SQL adapters
(SQLite and PostgreSQL), so what the fakes answer is what SQL answers.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Collection
from functools import cmp_to_key
from typing import Any

from acme.core.errors import NotFound, PreconditionFailed
from acme.core.messaging import Message
from acme.core.persistence import Page, decode_cursor, encode_cursor, parse_order
from acme.core.testing.fakes import FakeUnitOfWork
from acme.items.models import SORT_KEYS, Item, ItemFilter, ItemSort, RenderedPage
from acme.items.serializers import items_json


def _not_found(item_id: uuid.UUID) -> NotFound:
    return NotFound(f"item {item_id} not found", code="item_not_found")


class FakeItemRepository:
    """:class:`~acme.items.ports.ItemRepository` on a dictionary (copies in, copies out)."""

    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, Item] = {}

    async def add(self, item: Item) -> None:
        self.rows[item.id] = copy.deepcopy(item)

    async def get_owned(self, owner_id: uuid.UUID, item_id: uuid.UUID) -> Item:
        item = self.rows.get(item_id)
        if item is None or item.owner_id != owner_id:
            raise _not_found(item_id)
        return copy.deepcopy(item)

    async def list_page(
        self, spec: ItemFilter, *, sort: ItemSort, after: str | None, limit: int
    ) -> Page[Item]:
        keys = parse_order(SORT_KEYS[sort])
        keys = (*keys, parse_order([("-" if keys[-1].descending else "") + "id"])[0])

        def position(item: Item) -> list[Any]:
            return [getattr(item, key.column) for key in keys]

        def compare(a: list[Any], b: list[Any]) -> int:
            for key, x, y in zip(keys, a, b, strict=True):
                if x != y:
                    smaller = -1 if x < y else 1
                    return -smaller if key.descending else smaller
            return 0

        matching = [(position(i), i) for i in self.rows.values() if _matches(i, spec)]
        matching.sort(key=cmp_to_key(lambda a, b: compare(a[0], b[0])))
        if after is not None:
            start = decode_cursor(after, keys)
            matching = [(p, i) for p, i in matching if compare(p, start) > 0]
        page = matching[:limit]
        cursor = encode_cursor(keys, page[-1][0]) if len(matching) > limit else None
        return Page([copy.deepcopy(i) for _, i in page], cursor)

    async def list_rendered(
        self, spec: ItemFilter, *, sort: ItemSort, after: str | None, limit: int
    ) -> RenderedPage:
        page = await self.list_page(spec, sort=sort, after=after, limit=limit)
        return RenderedPage(items_json(page.items), page.next_cursor)

    async def save_version(self, item: Item, *, expected_version: int) -> None:
        stored = self.rows.get(item.id)
        if stored is None or stored.owner_id != item.owner_id or stored.version != expected_version:
            raise PreconditionFailed(
                f"item {item.id} was changed by someone else; fetch it again",
                code="item_version_mismatch",
            )
        self.rows[item.id] = copy.deepcopy(item)

    async def delete_owned(
        self,
        owner_id: uuid.UUID,
        item_id: uuid.UUID,
        *,
        expected_versions: Collection[int] | None = None,
    ) -> None:
        item = self.rows.get(item_id)
        if item is None or item.owner_id != owner_id:
            raise _not_found(item_id)
        if expected_versions is not None and item.version not in expected_versions:
            raise PreconditionFailed(
                f"item {item_id} is not at one of the expected versions",
                code="item_version_mismatch",
            )
        del self.rows[item_id]


def _matches(item: Item, spec: ItemFilter) -> bool:
    return (
        item.owner_id == spec.owner_id
        and (spec.order is None or item.order == spec.order)
        and (spec.tag is None or spec.tag in item.tags)
        and (spec.title_prefix is None or item.title.startswith(spec.title_prefix))
    )


class FakeItemsUnitOfWork(FakeUnitOfWork):
    """:class:`~acme.items.ports.ItemsUnitOfWork` in memory: one repository shared by every unit."""

    def __init__(self, items: FakeItemRepository, events: list[Message]) -> None:
        super().__init__(events)
        self.items = items
