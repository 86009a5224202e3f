"""Reads on the driver: only where nothing is bypassed, and never the one to report an error."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import bindparam, event, func, select
from sqlalchemy.exc import DBAPIError

from acme.core.errors import Unavailable
from acme.core.messaging import Message
from acme.core.messaging.outbox import Outbox
from acme.core.messaging.tables import outbox
from acme.core.persistence.database import Database
from acme.core.persistence.driver import driver_rows

_BY_ID = select(outbox.c.id, outbox.c.type, outbox.c.payload).where(
    outbox.c.id == bindparam("message_id")
)


async def test_a_reader_on_postgresql_reads_from_the_driver(core_database: Database) -> None:
    message = Message("thing.done", {"n": 1})
    async with core_database.unit_of_work() as uow:
        await Outbox(uow.connection).add(message)
        await uow.commit()
    async with core_database.reader() as reader:
        rows = await driver_rows(reader.connection, _BY_ID, {"message_id": message.id})
    if core_database.dialect == "sqlite":
        assert rows is None  # not asyncpg: the caller's usual path
        return
    assert rows is not None
    assert [tuple(row) for row in rows] == [(message.id, "thing.done", {"n": 1})]


async def test_inside_a_transaction_it_steps_aside(core_database: Database) -> None:
    async with core_database.unit_of_work() as uow:
        assert await driver_rows(uow.connection, _BY_ID, {"message_id": uuid.uuid4()}) is None


@pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)
async def test_a_driver_error_is_left_to_the_ordinary_path(core_database: Database) -> None:
    bad = {"message_id": "not a uuid"}
    async with core_database.reader() as reader:
        assert await driver_rows(reader.connection, _BY_ID, bad) is None
        with pytest.raises(DBAPIError):
            await reader.connection.execute(_BY_ID, bad)


@pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)
async def test_a_cancelled_query_is_unavailable_not_run_twice(
    empty_database_url: str,
) -> None:
    # A statement timeout far below the query's time: the server cancels it (57014).
    database = Database(empty_database_url, statement_timeout_ms=50)
    executed: list[str] = []

    def count(*args: object) -> None:
        executed.append(str(args[2]))

    event.listen(database.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with database.reader() as reader:
            with pytest.raises(Unavailable) as caught:
                await driver_rows(
                    reader.connection, select(func.pg_sleep(bindparam("s"))), {"s": 1}
                )
    finally:
        await database.dispose()
    assert "57014" in (caught.value.diagnostic or "")
    assert not [sql for sql in executed if "pg_sleep" in sql]  # not run again by SQLAlchemy
