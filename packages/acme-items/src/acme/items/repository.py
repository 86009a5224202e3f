"""The SQL adapters of the items ports: the repository and the unit of work.

Every query is scoped to one owner. Rows map to :class:`Item` positionally
(``Item(*row)``): no ORM, no per-row dictionaries.

Writes go through the unit of work's :meth:`~SqlUnitOfWork.defer`: they run
at commit, where on PostgreSQL a write and its outbox row are one statement
in autocommit. So a write's error (the item moved on, is gone, exists)
surfaces from ``commit()``, which the use cases await right after it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    select,
    type_coerce,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from acme.core.errors import Conflict, Invalid, NotFound, PreconditionFailed
from acme.core.persistence import (
    ComponentUnitOfWork,
    Page,
    SqlRepository,
    SqlUnitOfWork,
    check_position,
    decode_cursor,
    encode_cursor,
)
from acme.core.persistence.deferred import Check, Write
from acme.core.persistence.driver import driver_rows

from ._queries import (
    GET_OWNED,
    from_record,
    listing,
    listing_keys,
    listing_parameters,
    render_records,
    rendered_position,
)
from .models import SORT_KEYS, Item, ItemFilter, ItemSort, RenderedPage
from .serializers import items_json
from .tables import PG_TAGS, items

__all__ = ["SqlItemRepository", "SqlItemsUnitOfWork"]


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


# The writes, built once with named parameters: a deferred write is combined
# with its outbox row into one statement, cached on the write's statement.
_CHANGEABLE = ("title", "description", "tags", "order", "meta", "updated_at", "version")
_INSERT = insert(items).values({c.key: bindparam(f"new_{c.key}", type_=c.type) for c in items.c})
_UPDATE = (
    update(items)
    .where(
        items.c.id == bindparam("item_id"),
        items.c.owner_id == bindparam("item_owner"),
        items.c.version == bindparam("expected_version"),
    )
    .values({key: bindparam(f"new_{key}", type_=items.c[key].type) for key in _CHANGEABLE})
)
_DELETE = delete(items).where(
    items.c.id == bindparam("item_id"), items.c.owner_id == bindparam("item_owner")
)
_DELETE_AT = _DELETE.where(items.c.version.in_(bindparam("versions", expanding=True)))


def _exists_already() -> Conflict:
    return Conflict("item already exists", code="item_exists")


def _not_found(item_id: uuid.UUID) -> NotFound:
    return NotFound(f"item {item_id} not found", code="item_not_found")


class SqlItemRepository(SqlRepository[Item]):
    """:class:`~acme.items.ports.ItemRepository` on the unit of work's connection."""

    def __init__(self, connection: AsyncConnection, uow: SqlUnitOfWork | None = None) -> None:
        # The engine's dialect: a unit of work that opens on demand has not
        # checked ``connection`` out yet (see :meth:`_ready`).
        self._sqlite = connection.engine.dialect.name == "sqlite"
        self._unit = uow
        # Writes are deferred to the commit of a unit of work in deferred mode.
        self._uow = uow if uow is not None and uow.deferred else None
        super().__init__(
            connection,
            table=items,
            to_entity=from_record,
            to_values=_values,
            entity_name="item",
        )

    async def add(self, item: Item) -> None:
        """Store a new item. Raises :class:`Conflict` when its id exists."""
        parameters = {f"new_{key}": value for key, value in _values(item).items()}
        await self._write(_INSERT, parameters, conflict=_exists_already)

    async def _write(
        self,
        statement: Write,
        parameters: Mapping[str, Any],
        *,
        check: Check | None = None,
        conflict: Callable[[], Exception] | None = None,
    ) -> None:
        """Run a write now, or at the unit of work's commit when it defers writes."""
        if self._uow is not None:
            self._uow.defer(statement, parameters, check=check, conflict=conflict)
            return
        try:
            result = await (await self._ready()).execute(statement, parameters)
        except IntegrityError as exc:
            if conflict is None:
                raise
            raise conflict() from exc
        if check is not None:
            await check(result.rowcount)

    async def get_owned(self, owner_id: uuid.UUID, item_id: uuid.UUID) -> Item:
        """The owner's item. Another owner's item is :class:`NotFound`, like a missing one."""
        parameters = {"item_id": item_id, "owner_id": owner_id}
        records = await driver_rows(self._source(), GET_OWNED, parameters)
        if records is not None:
            if not records:
                raise _not_found(item_id)
            return from_record(records[0])
        row = (await (await self._ready()).execute(GET_OWNED, parameters)).first()
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
        if not self._sqlite:
            page = await self._driver_page(spec, sort, after, limit)
            if page is not None:
                return page
        query = select(items).where(*self._conditions(spec))
        await self._ready()
        return await self.page_of(query, order=SORT_KEYS[sort], after=after, limit=limit)

    async def list_rendered(
        self, spec: ItemFilter, *, sort: ItemSort, after: str | None, limit: int
    ) -> RenderedPage:
        """:meth:`list_page` in its JSON form.

        On asyncpg the rows go straight from the driver to JSON bytes (orjson),
        with no :class:`Item` in between; anywhere else (SQLite, a connection in
        a transaction) it renders the items :meth:`list_page` answers.

        Raises:
            Malformed: the cursor is malformed or belongs to another sort.
        """
        if not self._sqlite:
            rendered = await self._driver_rendered(spec, sort, after, limit)
            if rendered is not None:
                return rendered
        page = await self.list_page(spec, sort=sort, after=after, limit=limit)
        return RenderedPage(items_json(page.items), page.next_cursor)

    async def _driver_rendered(
        self, spec: ItemFilter, sort: ItemSort, after: str | None, limit: int
    ) -> RenderedPage | None:
        keys = listing_keys(sort)
        records = await self._driver_listing(spec, sort, after, limit, rendered=True)
        if records is None:
            return None
        shown = records[:limit]
        try:
            body = render_records(shown)
        except orjson.JSONEncodeError:
            # Text that is not valid Unicode: the ordinary path escapes it.
            return None
        next_cursor = None
        if len(records) > limit and shown:
            next_cursor = encode_cursor(keys, rendered_position(shown[-1], keys))
        return RenderedPage(body, next_cursor)

    async def _driver_listing(
        self, spec: ItemFilter, sort: ItemSort, after: str | None, limit: int, *, rendered: bool
    ) -> Sequence[Any] | None:
        """The rows of a listing (and its look-ahead row) from asyncpg; ``None``: not here."""
        if limit < 1:
            raise Invalid("limit must be at least 1")
        keys = listing_keys(sort)
        position = None
        if after is not None:
            position = decode_cursor(after, keys)
            check_position([items.c[key.column] for key in keys], position)
        statement = listing(
            sort,
            order=spec.order is not None,
            tag=spec.tag is not None,
            prefix=spec.title_prefix is not None,
            after=position is not None,
            rendered=rendered,
        )
        parameters = listing_parameters(spec, position, limit + 1)
        return await driver_rows(self._source(), statement, parameters)

    async def _driver_page(
        self, spec: ItemFilter, sort: ItemSort, after: str | None, limit: int
    ) -> Page[Item] | None:
        """:meth:`list_page` on asyncpg, past SQLAlchemy's result layer (``None``: not here)."""
        keys = listing_keys(sort)
        records = await self._driver_listing(spec, sort, after, limit, rendered=False)
        if records is None:
            return None
        page = [from_record(record) for record in records[:limit]]
        next_cursor = None
        if len(records) > limit and page:
            next_cursor = encode_cursor(keys, [getattr(page[-1], key.column) for key in keys])
        return Page(page, next_cursor)

    async def save_version(self, item: Item, *, expected_version: int) -> None:
        """Write back a changed item if it is still at ``expected_version``.

        Raises:
            PreconditionFailed: someone changed (or deleted) it meanwhile.
        """
        values = _values(item)
        parameters = {f"new_{key}": values[key] for key in _CHANGEABLE}
        parameters |= {
            "item_id": item.id,
            "item_owner": item.owner_id,
            "expected_version": expected_version,
        }

        async def check(changed: int) -> None:
            if changed == 0:
                raise PreconditionFailed(
                    f"item {item.id} was changed by someone else; fetch it again",
                    code="item_version_mismatch",
                )

        await self._write(_UPDATE, parameters, check=check)

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
        parameters: dict[str, Any] = {"item_id": item_id, "item_owner": owner_id}
        statement = _DELETE
        if expected_versions is not None:
            statement = _DELETE_AT
            parameters["versions"] = list(expected_versions)

        async def check(deleted: int) -> None:
            if deleted:
                return
            condition = and_(items.c.id == item_id, items.c.owner_id == owner_id)
            if expected_versions is not None and await self._exists(condition):
                raise PreconditionFailed(
                    f"item {item_id} is not at one of the expected versions",
                    code="item_version_mismatch",
                )
            raise _not_found(item_id)

        await self._write(statement, parameters, check=check)

    async def _exists(self, condition: ColumnElement[bool]) -> bool:
        query = select(items.c.id).where(condition)
        return (await (await self._ready()).execute(query)).first() is not None

    def _source(self) -> SqlUnitOfWork | AsyncConnection:
        """Where a statement runs straight on the driver: the unit of work, if there is one."""
        return self._unit if self._unit is not None else self.connection

    async def _ready(self) -> AsyncConnection:
        """:attr:`connection`, checked out first if the unit of work put it off."""
        if self._unit is not None:
            await self._unit.connect()
        return self.connection


class SqlItemsUnitOfWork(ComponentUnitOfWork):
    """:class:`~acme.items.ports.ItemsUnitOfWork` on one of core's SQL units of work.

    The repository shares its connection and defers its writes to the
    commit; events go through the outbox with them (one statement on
    PostgreSQL, one transaction on SQLite).
    """

    deferred_writes = True
    open_on_demand = True

    @property
    def items(self) -> SqlItemRepository:
        return SqlItemRepository(self.connection, self.unit_of_work)
