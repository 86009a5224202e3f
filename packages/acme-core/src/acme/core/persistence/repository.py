"""The generic repository port and its SQLAlchemy Core implementation."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import (
    ColumnElement,
    Insert,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from acme.core.errors import Conflict, Invalid, NotFound

from .pagination import Page, SortKey, check_position, decode_cursor, encode_cursor, parse_order

__all__ = ["Repository", "SqlRepository"]

T = TypeVar("T")


@cache
def _insert_into(table: Table) -> Insert:
    # One statement object per table: SQLAlchemy keys its compiled-SQL cache on
    # the statement, and the values travel as execution parameters. Building
    # ``insert().values(**row)`` per call coerces every value into a bound
    # parameter and walks them all for the cache key (a third of a create's CPU).
    return table.insert()


class Repository(Protocol[T]):
    """Storage of one kind of entity, keyed by ``id``.

    Components extend it with their own queries; use cases depend on the
    component's repository, never on SQL.
    """

    async def add(self, entity: T) -> None:
        """Store a new entity. Raises :class:`Conflict` when its key exists."""
        ...

    async def get(self, entity_id: Any) -> T:
        """The entity with this id. Raises :class:`NotFound`."""
        ...

    async def find(self, entity_id: Any) -> T | None:
        """The entity with this id, or ``None``."""
        ...

    async def update(self, entity: T) -> None:
        """Write back a changed entity. Raises :class:`NotFound`."""
        ...

    async def delete(self, entity_id: Any) -> None:
        """Remove an entity. Raises :class:`NotFound`."""
        ...

    async def filter(self, *, limit: int | None = None, **fields: Any) -> list[T]:
        """Entities whose fields equal the given values, in id order."""
        ...

    async def count(self, **fields: Any) -> int:
        """How many entities match the given field values."""
        ...

    async def page(
        self,
        *,
        order: Sequence[str] = ("id",),
        after: str | None = None,
        limit: int = 50,
        **fields: Any,
    ) -> Page[T]:
        """One page in a stable order, continuing after a cursor."""
        ...


class SqlRepository(Generic[T]):
    """:class:`Repository` on a SQLAlchemy :class:`~sqlalchemy.Table`.

    Rows are mapped to the component's plain dataclasses explicitly: no ORM
    identity map, no lazy loads, one cheap function call per row.

    Args:
        connection: The unit of work's connection (its transaction is shared).
        table: The table.
        to_entity: Builds an entity from a row.
        to_values: The column values of an entity.
        entity_name: Used in error messages (``"item"``).
        id_column: The primary key column name.
    """

    def __init__(
        self,
        connection: AsyncConnection,
        *,
        table: Table,
        to_entity: Callable[[Row[Any]], T],
        to_values: Callable[[T], Mapping[str, Any]],
        entity_name: str,
        id_column: str = "id",
    ) -> None:
        self.connection = connection
        self.table = table
        self._to_entity = to_entity
        self._to_values = to_values
        self.entity_name = entity_name
        self.id = table.c[id_column]

    def _not_found(self, entity_id: Any) -> NotFound:
        return NotFound(
            f"{self.entity_name} {entity_id} not found", code=f"{self.entity_name}_not_found"
        )

    def _where(self, fields: Mapping[str, Any]) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        for name, value in fields.items():
            if name not in self.table.c:
                raise Invalid(f"{self.entity_name} has no field {name!r}")
            column = self.table.c[name]
            clauses.append(column.is_(None) if value is None else column == value)
        return clauses

    async def add(self, entity: T) -> None:
        try:
            await self.connection.execute(_insert_into(self.table), dict(self._to_values(entity)))
        except IntegrityError as exc:
            raise Conflict(
                f"{self.entity_name} already exists", code=f"{self.entity_name}_exists"
            ) from exc

    async def find(self, entity_id: Any) -> T | None:
        result = await self.connection.execute(select(self.table).where(self.id == entity_id))
        row = result.first()
        return None if row is None else self._to_entity(row)

    async def get(self, entity_id: Any) -> T:
        entity = await self.find(entity_id)
        if entity is None:
            raise self._not_found(entity_id)
        return entity

    async def update(self, entity: T) -> None:
        values = dict(self._to_values(entity))
        entity_id = values.pop(self.id.key)
        result = await self.connection.execute(
            update(self.table).where(self.id == entity_id).values(**values)
        )
        if result.rowcount == 0:
            raise self._not_found(entity_id)

    async def delete(self, entity_id: Any) -> None:
        result = await self.connection.execute(delete(self.table).where(self.id == entity_id))
        if result.rowcount == 0:
            raise self._not_found(entity_id)

    async def filter(self, *, limit: int | None = None, **fields: Any) -> list[T]:
        query = select(self.table).where(*self._where(fields)).order_by(self.id)
        if limit is not None:
            query = query.limit(limit)
        return await self.fetch(query)

    async def count(self, **fields: Any) -> int:
        query = select(func.count()).select_from(self.table).where(*self._where(fields))
        return int((await self.connection.execute(query)).scalar_one())

    async def fetch(self, query: Select[Any]) -> list[T]:
        """Run a select on this table and map every row (for components' own queries)."""
        result = await self.connection.execute(query)
        to_entity = self._to_entity
        return [to_entity(row) for row in result]

    async def page(
        self,
        *,
        order: Sequence[str] = ("id",),
        after: str | None = None,
        limit: int = 50,
        **fields: Any,
    ) -> Page[T]:
        return await self.page_of(
            select(self.table).where(*self._where(fields)), order=order, after=after, limit=limit
        )

    async def page_of(
        self,
        query: Select[Any],
        *,
        order: Sequence[str] = ("id",),
        after: str | None = None,
        limit: int = 50,
    ) -> Page[T]:
        """Keyset-paginate any select on this table.

        The primary key is appended to the order so ties never reorder between
        pages. Give the table an index on the order columns (plus the key)
        and a page deep in a million rows costs what the first one does.

        Raises:
            Invalid: an unknown order column, a bad limit or a malformed cursor.
        """
        if limit < 1:
            raise Invalid("limit must be at least 1")
        keys = self._complete_order(parse_order(order))
        columns = [self.table.c[key.column] for key in keys]
        if after is not None:
            position = decode_cursor(after, keys)
            check_position(columns, position)
            query = query.where(_after(columns, keys, position))
        query = query.order_by(
            *(c.desc() if k.descending else c.asc() for c, k in zip(columns, keys, strict=True))
        )
        result = await self.connection.execute(query.limit(limit + 1))
        rows = result.all()
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = None
        if more and rows:
            last = rows[-1]._mapping
            next_cursor = encode_cursor(keys, [last[column] for column in columns])
        to_entity = self._to_entity
        return Page([to_entity(row) for row in rows], next_cursor)

    def _complete_order(self, keys: tuple[SortKey, ...]) -> tuple[SortKey, ...]:
        for key in keys:
            if key.column not in self.table.c:
                raise Invalid(f"cannot order {self.entity_name} by {key.column!r}")
        if not any(key.column == self.id.key for key in keys):
            descending = keys[-1].descending if keys else False
            keys = (*keys, SortKey(self.id.key, descending))
        return keys


def _after(
    columns: Sequence[ColumnElement[Any]], keys: Sequence[SortKey], values: Sequence[Any]
) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the order ``keys``."""
    if all(k.descending for k in keys) or not any(k.descending for k in keys):
        # Typed binds: a bare tuple would lose each column's type (UUIDs on SQLite).
        row = tuple_(*columns)
        position = tuple_(
            *(bindparam(None, v, type_=c.type) for c, v in zip(columns, values, strict=True))
        )
        return row < position if keys[0].descending else row > position
    # Mixed directions: (a > x) OR (a = x AND b < y) OR ...
    alternatives = []
    for index, (column, key, value) in enumerate(zip(columns, keys, values, strict=True)):
        equal = [columns[i] == values[i] for i in range(index)]
        step = column < value if key.descending else column > value
        alternatives.append(and_(*equal, step))
    return or_(*alternatives)
