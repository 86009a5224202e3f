"""Reads on the driver: only where nothing is bypassed, and never the one to report an error."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import bindparam, select
from sqlalchemy.exc import DBAPIError

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
