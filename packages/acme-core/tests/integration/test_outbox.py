from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from acme.core.messaging import Message, Outbox
from acme.core.messaging.tables import outbox
from acme.core.migrations import Migrator
from acme.core.persistence.database import Database


@pytest.fixture
async def database(empty_database_url: str) -> AsyncIterator[Database]:
    migrator = Migrator(empty_database_url)
    migrator.branches = [b for b in migrator.branches if b.name == "core"]
    await asyncio.to_thread(migrator.upgrade)
    db = Database(empty_database_url)
    try:
        yield db
    finally:
        await db.dispose()


async def test_outbox_rows_commit_with_the_change(database: Database) -> None:
    kept, dropped = Message("item.created", {"n": 1}), Message("item.created", {"n": 2})
    async with database.unit_of_work() as uow:
        await Outbox(uow.connection).add(kept)
        await uow.commit()
    async with database.unit_of_work() as uow:
        await Outbox(uow.connection).add(dropped)  # never committed
    async with database.engine.connect() as connection:
        rows = (await connection.execute(select(outbox))).all()
    assert [(row.id, row.payload, row.published_at) for row in rows] == [(kept.id, {"n": 1}, None)]
