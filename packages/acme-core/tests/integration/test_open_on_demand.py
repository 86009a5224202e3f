"""A unit of work that opens on demand: asyncpg's own pool for statements on the driver,
SQLAlchemy's connection only when asked for, everything handed back on leaving."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import bindparam, event, select, text

from acme.core.errors import Invalid, Unavailable
from acme.core.messaging import Message
from acme.core.messaging.outbox import Outbox
from acme.core.messaging.tables import outbox
from acme.core.persistence.database import Database
from acme.core.persistence.driver import driver_rows, driver_value
from acme.core.persistence.unit_of_work import SqlUnitOfWork
from acme.core.testing.waiting import free_port

_BY_ID = select(outbox.c.id, outbox.c.type, outbox.c.payload).where(
    outbox.c.id == bindparam("message_id")
)
_BUMP = (
    outbox.update().where(outbox.c.id == bindparam("target")).values(attempts=bindparam("attempts"))
)


def _checkouts(database: Database) -> list[object]:
    seen: list[object] = []
    event.listen(database.engine.sync_engine, "checkout", lambda *args: seen.append(args[0]))
    return seen


async def _stored(database: Database) -> Message:
    message = Message("thing.done", {"n": 1, "text": "é"})
    async with database.unit_of_work() as uow:
        await Outbox(uow.connection).add(message)
        await uow.commit()
    return message


@pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)
async def test_a_reader_runs_on_the_driver_pool_and_hands_it_back(
    core_database: Database,
) -> None:
    message = await _stored(core_database)
    checkouts = _checkouts(core_database)
    pool = core_database.driver_pool
    assert pool is not None
    for _ in range(3):  # the same connection each time: handed back on leaving
        async with SqlUnitOfWork(
            core_database.engine, read_only=True, open_on_demand=True
        ) as reader:
            rows = await driver_rows(reader, _BY_ID, {"message_id": message.id})
            assert rows is not None
            # json arrives parsed, as on SQLAlchemy's connections.
            assert [tuple(row) for row in rows] == [(message.id, "thing.done", message.payload)]
    assert checkouts == []
    assert pool.open_connections == 1
    assert pool.idle_connections == 1


@pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)
async def test_connect_opens_sqlalchemys_connection_when_needed(core_database: Database) -> None:
    checkouts = _checkouts(core_database)
    async with SqlUnitOfWork(core_database.engine, read_only=True, open_on_demand=True) as reader:
        assert checkouts == []
        connection = await reader.connect()
        assert connection is reader.connection
        assert (await connection.execute(text("SELECT 1"))).scalar() == 1
        # Once open, statements on the driver run on that same connection.
        assert await driver_value(reader, select(text("2")), {}) == 2
        assert reader.connection.sync_connection is not None
    assert len(checkouts) == 1
    with pytest.raises(RuntimeError, match="not open"):
        reader.connection  # noqa: B018 - the unit of work was left


@pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)
async def test_a_deferred_write_commits_on_the_driver_pool(core_database: Database) -> None:
    message = await _stored(core_database)
    checkouts = _checkouts(core_database)
    changed: list[int] = []

    async def check(count: int) -> None:
        changed.append(count)

    uow = SqlUnitOfWork(core_database.engine, deferred=True, open_on_demand=True)
    async with uow:
        uow.defer(_BUMP, {"target": message.id, "attempts": 7}, check=check)
        await uow.commit()
    assert checkouts == []
    assert changed == [1]
    async with core_database.reader() as reader:
        query = select(outbox.c.attempts).where(outbox.c.id == message.id)
        assert (await reader.connection.execute(query)).scalar_one() == 7


async def test_on_sqlite_it_changes_nothing(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    try:
        assert database.driver_pool is None
        async with SqlUnitOfWork(database.engine, read_only=True, open_on_demand=True) as reader:
            assert (await reader.connection.execute(text("SELECT 1"))).scalar() == 1
            assert await reader.driver() is None
    finally:
        await database.dispose()


async def test_an_unreachable_server_is_unavailable_from_the_driver_pool() -> None:
    database = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x", pool_timeout=2)
    try:
        with pytest.raises(Unavailable, match="database unreachable"):
            async with SqlUnitOfWork(
                database.engine, read_only=True, open_on_demand=True
            ) as reader:
                await driver_rows(reader, _BY_ID, {"message_id": uuid.uuid4()})
    finally:
        await database.dispose()


@pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)
async def test_a_connection_the_server_ended_is_replaced(core_database: Database) -> None:
    message = await _stored(core_database)
    on_demand = {"read_only": True, "open_on_demand": True}
    async with SqlUnitOfWork(core_database.engine, **on_demand) as reader:
        driver = await reader.driver()
        backend = await driver.fetchval("SELECT pg_backend_pid()")
    async with core_database.engine.connect() as other:
        await other.execute(text(f"SELECT pg_terminate_backend({int(backend)})"))
        # The server closes the socket as the backend ends; once the pooled
        # connection has seen that, the pool opens a new one instead of handing it out.
        for _ in range(100):
            gone = await other.scalar(
                text(f"SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = {int(backend)}")
            )
            if gone:
                break
            await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)
    async with SqlUnitOfWork(core_database.engine, **on_demand) as reader:
        rows = await driver_rows(reader, _BY_ID, {"message_id": message.id})
        assert await (await reader.driver()).fetchval("SELECT pg_backend_pid()") != backend
    assert rows is not None
    assert len(rows) == 1


@pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)
async def test_the_driver_pool_is_a_share_of_pool_size(empty_database_url: str) -> None:
    for pool_size, driver_share, expected in ((20, None, 10), (10, None, 0), (2, 1, 1)):
        database = Database(empty_database_url, pool_size=pool_size, driver_pool_size=driver_share)
        try:
            driver_pool = database.driver_pool
            assert (driver_pool.size if driver_pool else 0) == expected
            assert database.engine.pool.size() == pool_size - expected  # type: ignore[attr-defined]
        finally:
            await database.dispose()
    with pytest.raises(Invalid, match="driver_pool_size"):
        Database(empty_database_url, pool_size=4, driver_pool_size=4)


@pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)
async def test_the_driver_pool_serves_waiters_in_order_and_times_out(
    empty_database_url: str,
) -> None:
    database = Database(empty_database_url, pool_size=2, driver_pool_size=1, pool_timeout=0.5)
    pool = database.driver_pool
    assert pool is not None
    try:
        held = await pool.acquire()
        served: list[str] = []

        async def wait(name: str) -> None:
            connection = await pool.acquire()
            served.append(name)
            await asyncio.sleep(0)  # a newcomer arriving now must not take it
            pool.release(connection)

        first = asyncio.create_task(wait("first"))
        await asyncio.sleep(0.01)
        second = asyncio.create_task(wait("second"))
        await asyncio.sleep(0.01)
        pool.release(held)
        await asyncio.gather(first, second)
        assert served == ["first", "second"]
        assert pool.open_connections == 1  # one connection served all three

        # Nobody gives it back: a waiter gives up after the pool's timeout.
        held = await pool.acquire()
        with pytest.raises(TimeoutError):
            await pool.acquire()
        # A connection the server closed is dropped on release; the next acquire opens one.
        await held.close()
        pool.release(held)
        assert pool.open_connections == 0
        fresh = await pool.acquire()
        assert await fresh.fetchval("SELECT 1") == 1
        pool.release(fresh)
    finally:
        await database.dispose()


@pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)
async def test_an_exhausted_driver_pool_is_unavailable(empty_database_url: str) -> None:
    database = Database(empty_database_url, pool_size=2, driver_pool_size=1, pool_timeout=0.3)
    on_demand = {"read_only": True, "open_on_demand": True}
    try:
        async with SqlUnitOfWork(database.engine, **on_demand) as holder:
            await holder.driver()
            with pytest.raises(Unavailable):
                async with SqlUnitOfWork(database.engine, **on_demand) as waiter:
                    await waiter.driver()
    finally:
        await database.dispose()


@pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)
async def test_closing_the_driver_pool_closes_what_comes_back_and_fails_waiters(
    empty_database_url: str,
) -> None:
    database = Database(empty_database_url, pool_size=2, driver_pool_size=1)
    pool = database.driver_pool
    assert pool is not None
    lent = await pool.acquire()
    waiting = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0.01)
    await database.dispose()
    with pytest.raises(ConnectionError):
        await waiting
    pool.release(lent)  # from before the close: closed, not kept
    assert lent.is_closed()
    assert pool.idle_connections == 0
    # Used again, the pool opens a new connection.
    fresh = await pool.acquire()
    assert await fresh.fetchval("SELECT 1") == 1
    pool.release(fresh)
    assert pool.open_connections == 1
    await database.dispose()
