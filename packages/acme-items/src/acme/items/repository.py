"""The SQL adapters of the items ports: the repository and the unit of work.

Every query is scoped to one owner. Rows map to :class:`Item` positionally
(``Item(*row)``): no ORM, no per-row dictionaries.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    and_,
    bindparam,
    delete,
    exists,
    func,
    select,
    type_coerce,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from acme.core.errors import NotFound, PreconditionFailed
from acme.core.persistence import ComponentUnitOfWork, Page, SqlRepository

from .models import SORT_KEYS, Item, ItemFilter, ItemSort
from .tables import PG_TAGS, items

__all__ = ["SqlItemRepository", "SqlItemsUnitOfWork"]


# The table's columns are the dataclass's fields, in order.
_new_item: Callable[..., Item] = Item


def _from_row(row: Row[Any]) -> Item:
    return _new_item(*row)


def _values(item: Item) -> dict[str, Any]:
    return {
        "id": item.id,
        "owner_id": item.owner_id,
        "title": item.title,
        "description": item.description,
        "tags": item.tags,
        "order": item.order,
        "meta": item.meta,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "version": item.version,
    }


# The hot single-item read, built once and run with parameters.
_GET_OWNED = select(items).where(
    items.c.id == bindparam("item_id"), items.c.owner_id == bindparam("owner_id")
)


def _not_found(item_id: uuid.UUID) -> NotFound:
    return NotFound(f"item {item_id} not found", code="item_not_found")


class SqlItemRepository(SqlRepository[Item]):
    """:class:`~acme.items.ports.ItemRepository` on the unit of work's connection."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._sqlite = connection.dialect.name == "sqlite"
        super().__init__(
            connection,
            table=items,
            to_entity=_from_row,
            to_values=_values,
            entity_name="item",
        )

    async def get_owned(self, owner_id: uuid.UUID, item_id: uuid.UUID) -> Item:
        """The owner's item. Another owner's item is :class:`NotFound`, like a missing one."""
        parameters = {"item_id": item_id, "owner_id": owner_id}
        row = (await self.connection.execute(_GET_OWNED, parameters)).first()
        if row is None:
            raise _not_found(item_id)
        return self._to_entity(row)

    def _conditions(self, spec: ItemFilter) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = [items.c.owner_id == spec.owner_id]
        if spec.order is not None:
            conditions.append(items.c.order == spec.order)
        if spec.tag is not None:
            if self._sqlite:
                each = func.json_each(items.c.tags).table_valued("value")
                conditions.append(exists().where(each.c.value == spec.tag))
            else:
                tags = type_coerce(items.c.tags, PG_TAGS)
                conditions.append(tags.contains([spec.tag]))  # @>, served by the GIN index
        if spec.title_prefix is not None:
            # substr rather than LIKE: case-sensitive on both databases, no escaping.
            prefix = spec.title_prefix
            conditions.append(func.substr(items.c.title, 1, len(prefix)) == prefix)
        return conditions

    async def list_page(
        self, spec: ItemFilter, *, sort: ItemSort, after: str | None, limit: int
    ) -> Page[Item]:
        """One page of the owner's items matching ``spec``.

        Raises:
            Malformed: the cursor is malformed or belongs to another sort.
        """
        query = select(items).where(*self._conditions(spec))
        return await self.page_of(query, order=SORT_KEYS[sort], after=after, limit=limit)

    async def save_version(self, item: Item, *, expected_version: int) -> None:
        """Write back a changed item if it is still at ``expected_version``.

        Raises:
            PreconditionFailed: someone changed (or deleted) it meanwhile.
        """
        values = _values(item)
        for key in ("id", "owner_id", "created_at"):
            values.pop(key)
        result = await self.connection.execute(
            update(items)
            .where(
                and_(
                    items.c.id == item.id,
                    items.c.owner_id == item.owner_id,
                    items.c.version == expected_version,
                )
            )
            .values(**values)
        )
        if result.rowcount == 0:
            raise PreconditionFailed(
                f"item {item.id} was changed by someone else; fetch it again",
                code="item_version_mismatch",
            )

    async def delete_owned(
        self,
        owner_id: uuid.UUID,
        item_id: uuid.UUID,
        *,
        expected_versions: Collection[int] | None = None,
    ) -> None:
        """Delete the owner's item (only at one of ``expected_versions``, when given).

        Raises:
            NotFound: no such item of this owner.
            PreconditionFailed: the item exists at another version.
        """
        condition = and_(items.c.id == item_id, items.c.owner_id == owner_id)
        statement = delete(items).where(condition)
        if expected_versions is not None:
            statement = statement.where(items.c.version.in_(list(expected_versions)))
        result = await self.connection.execute(statement)
        if result.rowcount == 0:
            if expected_versions is not None and await self._exists(condition):
                raise PreconditionFailed(
                    f"item {item_id} is not at one of the expected versions",
                    code="item_version_mismatch",
                )
            raise _not_found(item_id)

    async def _exists(self, condition: ColumnElement[bool]) -> bool:
        query = select(items.c.id).where(condition)
        return (await self.connection.execute(query)).first() is not None


class SqlItemsUnitOfWork(ComponentUnitOfWork):
    """:class:`~acme.items.ports.ItemsUnitOfWork` on one of core's SQL units of work.

    The repository shares its connection; events go through the outbox in
    the same transaction.
    """

    @property
    def items(self) -> SqlItemRepository:
        return SqlItemRepository(self.connection)
