"""A database outage reaches use cases as Unavailable, never as the driver's exception."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from acme.core.errors import Unavailable
from acme.core.persistence.database import Database


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_an_unreachable_server_is_unavailable_on_entering() -> None:
    db = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/x", pool_timeout=2)
    try:
        with pytest.raises(Unavailable, match="database unreachable") as caught:
            async with db.unit_of_work():
                pytest.fail("entered a unit of work without a database")
        assert caught.value.code == "database_unavailable"
    finally:
        await db.dispose()


async def test_a_connection_lost_mid_transaction_is_unavailable(postgres_url: str) -> None:
    db = Database(postgres_url)
    try:
        with pytest.raises(Unavailable, match="database unreachable"):
            async with db.unit_of_work() as uow:
                backend = (await uow.connection.execute(text("SELECT pg_backend_pid()"))).scalar()
                # Another session ends this one, as a server restart would.
                async with db.engine.connect() as other:
                    await other.execute(text(f"SELECT pg_terminate_backend({int(backend)})"))
                await uow.connection.execute(text("SELECT 1"))
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
            async with db.unit_of_work() as uow:
                await uow.connection.execute(text("INSERT INTO uow_probe VALUES (1)"))
                await uow.connection.execute(text("INSERT INTO uow_probe VALUES (1)"))
        with pytest.raises(ValueError, match="business rule"):
            async with db.unit_of_work():
                raise ValueError("business rule")
    finally:
        async with db.engine.begin() as connection:
            await connection.execute(text("DROP TABLE uow_probe"))
        await db.dispose()
