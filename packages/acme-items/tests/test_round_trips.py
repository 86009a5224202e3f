"""What a write costs on the wire: a write and its outbox row are one statement on PostgreSQL.

Every statement is counted where the driver sends it: SQLAlchemy's cursor
executions, and through asyncpg's query logger what never passes a cursor
(asyncpg's own ``BEGIN``/``COMMIT``, the reads run on the driver), on
SQLAlchemy's pooled connections and on the driver pool's. Prepared-statement round trips
are excluded by warming up first: the same statements run twice and only
the second run is counted.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, func, select

from acme.core.errors import NotFound, PreconditionFailed
from acme.core.messaging.publisher import OutboxPublisher
from acme.core.messaging.tables import outbox
from acme.core.migrations import Migrator
from acme.core.persistence.database import Database
from acme.items.dependencies import ItemsDependencies, setup
from acme.items.interface import (
    create_item,
    delete_item,
    get_item,
    list_items,
    list_items_rendered,
    update_item,
)
from acme.items.serializers import ItemCreate, ItemPatch, ItemQuery
from acme.items.tables import items

OWNER = uuid.uuid4()


@pytest.fixture
async def database(fresh_postgres_url: str) -> AsyncIterator[Database]:
    await asyncio.to_thread(Migrator(fresh_postgres_url).upgrade)
    # One pooled connection in each pool: the query logger below is attached to them.
    database = Database(fresh_postgres_url, pool_size=2, driver_pool_size=1)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def deps(database: Database) -> ItemsDependencies:
    return setup(
        unit_of_work=database.unit_of_work, events=OutboxPublisher(), reader=database.reader
    )


class Wire:
    """The statements sent on the pool's connections, in order."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.through_sqlalchemy: list[str] = []
        self.checkouts = 0  # of SQLAlchemy's pool

    async def reset(self) -> None:
        # Records of statements already run may still be on their way (see kinds).
        await asyncio.sleep(0.01)
        self.sent.clear()
        self.through_sqlalchemy.clear()
        self.checkouts = 0

    async def kinds(self) -> list[str]:
        # asyncpg hands query records to its loggers with call_soon.
        await asyncio.sleep(0.01)
        return sorted(" ".join(s.rstrip(";").split()[:2]).upper() for s in self.sent)


@contextmanager
def watching(database: Database) -> Iterator[Wire]:
    wire = Wire()
    engine = database.engine.sync_engine

    # asyncpg's logger sees BEGIN, COMMIT and the hot reads run on the driver;
    # SQLAlchemy's own statements go through prepared statements it does not log.
    def on_query(record: Any) -> None:
        wire.sent.append(record.query)

    def on_cursor(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        wire.sent.append(statement)
        wire.through_sqlalchemy.append(statement)

    def on_checkout(dbapi_connection: Any, *_args: Any) -> None:
        wire.checkouts += 1
        dbapi_connection.driver_connection.add_query_logger(on_query)

    def on_checkin(dbapi_connection: Any, *_args: Any) -> None:
        if dbapi_connection is not None:
            dbapi_connection.driver_connection.remove_query_logger(on_query)

    listeners = [
        ("before_cursor_execute", on_cursor),
        ("checkout", on_checkout),
        ("checkin", on_checkin),
    ]
    for name, listener in listeners:
        event.listen(engine, name, listener)
    # The driver pool's connections (units of work that open on demand) are logged too.
    pool = database.driver_pool
    assert pool is not None
    acquire, release = pool.acquire, pool.release

    async def acquire_logged() -> Any:
        connection = await acquire()
        connection.add_query_logger(on_query)
        return connection

    def release_logged(connection: Any) -> None:
        connection.remove_query_logger(on_query)
        release(connection)

    pool.acquire, pool.release = acquire_logged, release_logged  # type: ignore[method-assign]
    try:
        yield wire
    finally:
        for name, listener in listeners:
            event.remove(engine, name, listener)
        pool.acquire, pool.release = acquire, release  # type: ignore[method-assign]


async def _pending(database: Database) -> int:
    async with database.engine.connect() as connection:
        query = select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        return int((await connection.execute(query)).scalar_one())


async def test_a_create_is_one_statement_with_its_outbox_row(
    database: Database, deps: ItemsDependencies
) -> None:
    with watching(database) as wire:
        await create_item(deps, owner_id=OWNER, data=ItemCreate(title="warm-up"))
        await wire.reset()
        item = await create_item(deps, owner_id=OWNER, data=ItemCreate(title="counted"))
    assert await wire.kinds() == ["WITH ACME_WRITE"], wire.sent
    # On the driver pool: nothing was checked out of SQLAlchemy's.
    assert wire.checkouts == 0
    async with database.engine.connect() as connection:
        stored = (
            await connection.execute(select(items.c.title).where(items.c.id == item.id))
        ).all()
    assert [row.title for row in stored] == ["counted"]
    assert await _pending(database) == 2


async def test_an_update_is_one_read_and_one_statement(
    database: Database, deps: ItemsDependencies
) -> None:
    item = await create_item(deps, owner_id=OWNER, data=ItemCreate(title="v1"))
    with watching(database) as wire:
        await update_item(
            deps,
            owner_id=OWNER,
            item_id=item.id,
            expected_versions=None,
            patch=ItemPatch(title="v2"),
        )
        await wire.reset()
        updated = await update_item(
            deps,
            owner_id=OWNER,
            item_id=item.id,
            expected_versions=[2],
            patch=ItemPatch(title="v3"),
        )
    assert await wire.kinds() == ["SELECT ITEMS.ID,", "WITH ACME_WRITE"], wire.sent
    assert updated.version == 3
    assert await _pending(database) == 3


async def test_a_refused_write_leaves_no_outbox_row(
    database: Database, deps: ItemsDependencies
) -> None:
    item = await create_item(deps, owner_id=OWNER, data=ItemCreate(title="kept"))
    with pytest.raises(PreconditionFailed):
        await delete_item(deps, owner_id=OWNER, item_id=item.id, expected_versions=[7])
    with pytest.raises(NotFound):
        await delete_item(deps, owner_id=OWNER, item_id=uuid.uuid4())
    assert await _pending(database) == 1
    with watching(database) as wire:
        await delete_item(deps, owner_id=OWNER, item_id=item.id, expected_versions=[1])
    assert await wire.kinds() == ["WITH ACME_WRITE"], wire.sent
    assert await _pending(database) == 2


async def test_the_count_sees_begin_and_commit(database: Database) -> None:
    """The watcher itself: a plain unit of work's transaction shows on the wire."""
    with watching(database) as wire:
        async with database.unit_of_work() as uow:
            await uow.connection.execute(select(func.count()).select_from(items))
            await uow.commit()
    assert await wire.kinds() == ["BEGIN", "COMMIT", "SELECT COUNT(*)"], wire.sent


async def test_hot_reads_are_one_statement_each_on_the_driver(
    database: Database, deps: ItemsDependencies
) -> None:
    item = await create_item(deps, owner_id=OWNER, data=ItemCreate(title="read me", tags=["a"]))
    await create_item(deps, owner_id=OWNER, data=ItemCreate(title="and me", tags=["a"]))
    query = ItemQuery(tag="a", limit=1)
    first = await list_items(deps, owner_id=OWNER, query=query)
    with watching(database) as wire:
        got = await get_item(deps, owner_id=OWNER, item_id=item.id)
        second = await list_items(
            deps, owner_id=OWNER, query=ItemQuery(tag="a", limit=1, cursor=first.next_cursor)
        )
    assert await wire.kinds() == ["SELECT ITEMS.ID,", "SELECT ITEMS.ID,"], wire.sent
    assert wire.through_sqlalchemy == []  # no result layer: the driver's records
    assert wire.checkouts == 0  # nor SQLAlchemy's pool: the driver pool's connections
    assert got == item
    assert [i.title for i in first.items + second.items] == ["and me", "read me"]


async def test_a_rendered_listing_is_one_statement_on_the_driver(
    database: Database, deps: ItemsDependencies
) -> None:
    await create_item(deps, owner_id=OWNER, data=ItemCreate(title="one", meta={"k": [1, "é"]}))
    await create_item(deps, owner_id=OWNER, data=ItemCreate(title="two"))
    with watching(database) as wire:
        first = await list_items_rendered(deps, owner_id=OWNER, query=ItemQuery(limit=1))
        second = await list_items_rendered(
            deps, owner_id=OWNER, query=ItemQuery(limit=1, cursor=first.next_cursor)
        )
    assert await wire.kinds() == ["SELECT CAST(ITEMS.ID", "SELECT CAST(ITEMS.ID"], wire.sent
    assert wire.through_sqlalchemy == []
    assert wire.checkouts == 0
    shown = json.loads(first.items_json) + json.loads(second.items_json)
    assert [i["title"] for i in shown] == ["two", "one"]
    assert shown[1]["meta"] == {"k": [1, "é"]}
    assert second.next_cursor is None
