"""The ports the items use cases depend on: a unit of work that hands out the repository.

The SQL adapters are in :mod:`acme.items.repository`; in-memory fakes are in
the component's tests, and one suite runs the use cases on both.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Protocol

from acme.core.messaging import Message
from acme.core.persistence import Page, UnitOfWork

from .models import Item, ItemFilter, ItemSort, RenderedPage

__all__ = ["ItemRepository", "ItemsUnitOfWork"]


class ItemRepository(Protocol):
    """The items of every owner; each query is scoped to one."""

    async def add(self, item: Item, /) -> None:
        """Store a new item."""
        ...

    async def get_owned(self, owner_id: uuid.UUID, item_id: uuid.UUID) -> Item:
        """The owner's item. Raises :class:`NotFound` (another owner's item too)."""
        ...

    async def list_page(
        self, spec: ItemFilter, *, sort: ItemSort, after: str | None, limit: int
    ) -> Page[Item]:
        """One page of the items matching ``spec``, in ``sort`` order (``SORT_KEYS``).

        Raises :class:`Malformed` for a cursor that is malformed or of another sort.
        """
        ...

    async def list_rendered(
        self, spec: ItemFilter, *, sort: ItemSort, after: str | None, limit: int
    ) -> RenderedPage:
        """The page :meth:`list_page` answers, in its JSON form (see :class:`RenderedPage`)."""
        ...

    async def save_version(self, item: Item, *, expected_version: int) -> None:
        """Write back a changed item. Raises :class:`PreconditionFailed` if it moved on."""
        ...

    async def delete_owned(
        self,
        owner_id: uuid.UUID,
        item_id: uuid.UUID,
        *,
        expected_versions: Collection[int] | None = None,
    ) -> None:
        """Delete the owner's item. Raises :class:`NotFound` or :class:`PreconditionFailed`."""
        ...


class ItemsUnitOfWork(UnitOfWork, Protocol):
    """One transaction of the items component.

    ``items`` is valid inside ``async with``; an event given to
    :meth:`publish` goes out if and only if the unit of work commits.
    """

    @property
    def items(self) -> ItemRepository: ...

    async def publish(self, message: Message) -> None:
        """Queue an event in this unit of work."""
        ...
