"""A database outage reaches use cases as Unavailable, never as the driver's exception."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from acme.core.errors import Unavailable
from acme.core.persistence.database import Database
from acme.core.persistence.unit_of_work import is_outage


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_an_unreachable_server_is_unavailable_on_entering() -> None:
    db = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/x", pool_timeout=2)
    try:
        with pytest.raises(Unavailable, match="database unreachable") as caught:
            await db.unit_of_work().__aenter__()
        assert caught.value.code == "database_unavailable"
    finally:
        await db.dispose()


async def lose_the_connection_mid_transaction(db: Database) -> None:
    async with db.unit_of_work() as uow:
        backend = (await uow.connection.execute(text("SELECT pg_backend_pid()"))).scalar()
        # Another session ends this one, as a server restart would.
        async with db.engine.connect() as other:
            await other.execute(text(f"SELECT pg_terminate_backend({int(backend)})"))
        await uow.connection.execute(text("SELECT 1"))


async def insert_twice(db: Database) -> None:
    async with db.unit_of_work() as uow:
        await uow.connection.execute(text("INSERT INTO uow_probe VALUES (1)"))
        await uow.connection.execute(text("INSERT INTO uow_probe VALUES (1)"))


async def fail_a_rule(db: Database) -> None:
    async with db.unit_of_work():
        raise ValueError("business rule")


async def test_a_connection_lost_mid_transaction_is_unavailable(postgres_url: str) -> None:
    db = Database(postgres_url)
    try:
        with pytest.raises(Unavailable, match="database unreachable"):
            await lose_the_connection_mid_transaction(db)
        # The pool recovers: the next unit of work works.
        async with db.unit_of_work() as uow:
            assert (await uow.connection.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await db.dispose()


async def test_other_errors_pass_through_unchanged(database_url: str) -> None:
    db = Database(database_url)
    try:
        async with db.engine.begin() as connection:
            await connection.execute(text("CREATE TABLE uow_probe (id INTEGER PRIMARY KEY)"))
        with pytest.raises(IntegrityError):
            await insert_twice(db)
        with pytest.raises(ValueError, match="business rule"):
            await fail_a_rule(db)
    finally:
        async with db.engine.begin() as connection:
            await connection.execute(text("DROP TABLE uow_probe"))
        await db.dispose()


class DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"SQLSTATE {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "outage"),
    [
        ("57P03", True),  # cannot connect now: starting up or shutting down
        ("57P01", True),  # admin shutdown
        ("08006", True),  # connection failure
        ("57014", False),  # a cancelled statement (statement_timeout) is not an outage
        ("23505", False),  # unique violation
    ],
)
def test_outages_are_told_apart_by_sqlstate(sqlstate: str, outage: bool) -> None:
    error = DBAPIError("SELECT 1", {}, DriverError(sqlstate))
    assert is_outage(error) is outage
