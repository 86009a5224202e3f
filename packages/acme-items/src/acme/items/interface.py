"""The items use cases: the one entry point the outside world calls.

Each takes the component's dependencies and plain values, runs in one unit
of work and raises :mod:`acme.core.errors` types. An owner only ever sees
and changes their own items: another owner's item is :class:`NotFound`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection

from acme.core.errors import PreconditionFailed
from acme.core.persistence import Page

from . import events
from .dependencies import ItemsDependencies
from .models import Item, ItemFilter, RenderedPage
from .serializers import ItemCreate, ItemPatch, ItemQuery

__all__ = [
    "create_item",
    "delete_item",
    "get_item",
    "list_items",
    "list_items_rendered",
    "update_item",
]


async def create_item(deps: ItemsDependencies, *, owner_id: uuid.UUID, data: ItemCreate) -> Item:
    """Create an item owned by ``owner_id``; publishes ``item.created``."""
    item = Item.new(
        owner_id=owner_id,
        title=data.title,
        description=data.description,
        tags=data.tags,
        order=data.order,
        meta=data.meta,
        now=deps.clock(),
    )
    async with deps.unit_of_work() as uow:
        await uow.items.add(item)
        await uow.publish(events.item_created(item))
        await uow.commit()
    return item


async def get_item(deps: ItemsDependencies, *, owner_id: uuid.UUID, item_id: uuid.UUID) -> Item:
    """The owner's item.

    Raises:
        NotFound: no such item, or not this owner's.
    """
    async with deps.read() as uow:
        return await uow.items.get_owned(owner_id, item_id)


async def list_items(
    deps: ItemsDependencies, *, owner_id: uuid.UUID, query: ItemQuery
) -> Page[Item]:
    """One page of the owner's items, filtered and sorted as asked.

    The cursor of the next page is sealed for this very listing: the same
    owner, filters and sort.

    Raises:
        Malformed: the cursor was altered, is malformed or was made for
            another listing (``invalid_cursor``).
    """
    spec, listing = _spec(owner_id, query)
    after = deps.cursors.open(query.cursor, listing)
    async with deps.read() as uow:
        page = await uow.items.list_page(spec, sort=query.sort, after=after, limit=query.limit)
    return Page(page.items, deps.cursors.seal(page.next_cursor, listing))


async def list_items_rendered(
    deps: ItemsDependencies, *, owner_id: uuid.UUID, query: ItemQuery
) -> RenderedPage:
    """:func:`list_items`, the page already in its JSON form (the API's hot path).

    Raises:
        Malformed: as :func:`list_items`.
    """
    spec, listing = _spec(owner_id, query)
    after = deps.cursors.open(query.cursor, listing)
    async with deps.read() as uow:
        page = await uow.items.list_rendered(spec, sort=query.sort, after=after, limit=query.limit)
    return RenderedPage(page.items_json, deps.cursors.seal(page.next_cursor, listing))


def _spec(owner_id: uuid.UUID, query: ItemQuery) -> tuple[ItemFilter, str]:
    spec = ItemFilter(
        owner_id=owner_id, order=query.order, tag=query.tag, title_prefix=query.title_prefix
    )
    return spec, _listing(spec, query.sort)


def _listing(spec: ItemFilter, sort: str) -> str:
    """What a cursor is bound to: whose items, which filters, which order."""
    return json.dumps(
        ["items", str(spec.owner_id), spec.order, spec.tag, spec.title_prefix, sort],
        separators=(",", ":"),
    )


async def update_item(
    deps: ItemsDependencies,
    *,
    owner_id: uuid.UUID,
    item_id: uuid.UUID,
    expected_versions: Collection[int] | None,
    patch: ItemPatch,
) -> Item:
    """Change the owner's item if it is at one of ``expected_versions`` (``None``: any).

    Publishes ``item.updated`` when something really changed.

    Raises:
        NotFound: no such item, or not this owner's.
        PreconditionFailed: the item is at another version (changed meanwhile).
    """
    async with deps.unit_of_work() as uow:
        item = await uow.items.get_owned(owner_id, item_id)
        if expected_versions is not None and item.version not in expected_versions:
            raise PreconditionFailed(
                f"item {item_id} is at version {item.version}, not one of those expected",
                code="item_version_mismatch",
                extra={"current_version": item.version},
            )
        seen_version = item.version
        changed = item.change(patch.changes(), now=deps.clock())
        if not changed:
            return item
        await uow.items.save_version(item, expected_version=seen_version)
        await uow.publish(events.item_updated(item, changed))
        await uow.commit()
    return item


async def delete_item(
    deps: ItemsDependencies,
    *,
    owner_id: uuid.UUID,
    item_id: uuid.UUID,
    expected_versions: Collection[int] | None = None,
) -> None:
    """Delete the owner's item; publishes ``item.deleted``.

    Raises:
        NotFound: no such item, or not this owner's.
        PreconditionFailed: ``expected_versions`` given and the item is at another.
    """
    async with deps.unit_of_work() as uow:
        await uow.items.delete_owned(owner_id, item_id, expected_versions=expected_versions)
        await uow.publish(events.item_deleted(str(item_id), str(owner_id)))
        await uow.commit()
