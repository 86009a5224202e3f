"""UtcDateTime: every time column reads back as an aware UTC datetime, on both databases."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, MetaData, Table, Uuid, insert, select

from acme.core.persistence import UtcDateTime
from acme.core.persistence.database import Database

metadata = MetaData()
moments = Table(
    f"test_moments_{uuid.uuid4().hex[:8]}",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("at", UtcDateTime(), nullable=True),
)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A database holding the ``moments`` table, dropped afterwards."""
    db = Database(database_url)
    async with db.unit_of_work() as uow:
        await uow.connection.run_sync(metadata.create_all)
        await uow.commit()
    try:
        yield db
    finally:
        async with db.unit_of_work() as uow:
            await uow.connection.run_sync(metadata.drop_all)
            await uow.commit()
        await db.dispose()


async def read_all(database: Database) -> dict[uuid.UUID, datetime | None]:
    async with database.reader() as uow:
        return dict((await uow.connection.execute(select(moments))).all())  # type: ignore[arg-type]


async def test_times_come_back_aware_and_in_utc(database: Database) -> None:
    stored = datetime(2026, 12, 1, 12, 30, 15, 123456, tzinfo=UTC)
    ids = [uuid.uuid4() for _ in range(2)]
    async with database.unit_of_work() as uow:
        await uow.connection.execute(
            insert(moments), [{"id": ids[0], "at": stored}, {"id": ids[1], "at": None}]
        )
        await uow.commit()
    rows = await read_all(database)
    assert rows[ids[0]] == stored
    assert rows[ids[0]].tzinfo is not None  # type: ignore[union-attr]
    assert rows[ids[0]].utcoffset() == timedelta(0)  # type: ignore[union-attr]
    assert rows[ids[1]] is None


async def test_an_aware_time_in_another_zone_is_stored_as_its_instant(database: Database) -> None:
    plus_two = datetime(2026, 12, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    row_id = uuid.uuid4()
    async with database.unit_of_work() as uow:
        await uow.connection.execute(insert(moments), [{"id": row_id, "at": plus_two}])
        await uow.commit()
    assert (await read_all(database))[row_id] == datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


async def test_a_naive_time_is_refused_on_both_databases(database: Database) -> None:
    naive = datetime(2026, 12, 1, 12, 0)  # noqa: DTZ001 - the point of the test
    with pytest.raises(Exception, match="a naive datetime has no instant to store"):
        async with database.unit_of_work() as uow:
            await uow.connection.execute(insert(moments), [{"id": uuid.uuid4(), "at": naive}])
    assert await read_all(database) == {}
