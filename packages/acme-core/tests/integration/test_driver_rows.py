"""Statements on the driver: only where nothing is bypassed, never the one to report an error."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Select, bindparam, event, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from acme.core.errors import Unavailable
from acme.core.messaging import Message
from acme.core.messaging.outbox import Outbox
from acme.core.messaging.tables import outbox
from acme.core.persistence.database import Database
from acme.core.persistence.driver import driver_rows, driver_value

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
    # Set on the connection once it is open: as the database's own setting it also
    # applied to the driver's first queries on connecting, which a loaded machine
    # could take longer than 50 ms to answer (seen once).
    database = Database(empty_database_url)
    executed: list[str] = []

    def count(*args: object) -> None:
        executed.append(str(args[2]))

    event.listen(database.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with database.reader() as reader:
            await reader.connection.execute(text("SET statement_timeout = 50"))
            with pytest.raises(Unavailable) as caught:
                await driver_rows(
                    reader.connection, select(func.pg_sleep(bindparam("s"))), {"s": 1}
                )
    finally:
        await database.dispose()
    assert "57014" in (caught.value.diagnostic or "")
    assert not [sql for sql in executed if "pg_sleep" in sql]  # not run again by SQLAlchemy


_WRITTEN = ("id", "type", "version", "occurred_at", "payload", "created_at", "attempts")


def _adding(keys: tuple[str, ...]) -> Select[Any]:
    """A write that is a whole transaction: insert a message, answer how many rows it wrote."""
    values = {key: bindparam(f"new_{key}", type_=outbox.c[key].type) for key in keys}
    added = outbox.insert().values(values).returning(outbox.c.id).cte("added")
    return select(func.count()).select_from(added)


_ADD = _adding(_WRITTEN)


def _new_message_values(payload: object) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "new_id": uuid.uuid4(),
        "new_type": "thing.done",
        "new_version": 1,
        "new_occurred_at": now,
        "new_payload": payload,
        "new_created_at": now,
        "new_attempts": 0,
    }


@pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)
async def test_a_write_on_the_driver_takes_what_sqlalchemy_takes(core_database: Database) -> None:
    values = _new_message_values({"nested": [1, "é", None]})
    async with core_database.reader() as reader:
        # The JSON column's value is serialised as SQLAlchemy's bind processing would.
        assert await driver_value(reader.connection, _ADD, values) == 1
    async with core_database.reader() as reader:
        stored = (await reader.connection.execute(_BY_ID, {"message_id": values["new_id"]})).one()
    assert stored.payload == {"nested": [1, "é", None]}


@pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)
async def test_a_failed_write_on_the_driver_changed_nothing_and_is_left_to_sqlalchemy(
    core_database: Database,
) -> None:
    values = _new_message_values({})
    async with core_database.reader() as reader:
        assert await driver_value(reader.connection, _ADD, values) == 1
        # The same id again: the statement fails, and says so through SQLAlchemy.
        assert await driver_value(reader.connection, _ADD, values) is None
        with pytest.raises(IntegrityError):
            await reader.connection.execute(_ADD, values)
    async with core_database.reader() as reader:
        count = select(func.count()).select_from(outbox)
        assert (await reader.connection.execute(count)).scalar_one() == 1


async def test_a_write_steps_aside_in_a_transaction_on_sqlite_and_with_an_in_list(
    core_database: Database,
) -> None:
    async with core_database.unit_of_work() as uow:
        assert await driver_value(uow.connection, _ADD, _new_message_values({})) is None
    by_ids = select(func.count()).where(outbox.c.id.in_(bindparam("ids", expanding=True)))
    async with core_database.reader() as reader:
        # An IN list is rendered per execution by SQLAlchemy: not for the driver.
        assert await driver_value(reader.connection, by_ids, {"ids": [uuid.uuid4()]}) is None
        # Nor is a parameter SQLAlchemy fills in itself (attempts: a Python-side default).
        defaulted = _adding(_WRITTEN[:-1])
        assert await driver_value(reader.connection, defaulted, _new_message_values({})) is None
