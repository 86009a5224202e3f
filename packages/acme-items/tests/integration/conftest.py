"""Fixtures for acme-items: a migrated database on both backends and the use cases' ports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from acme.core.messaging import Message
from acme.core.migrations import Migrator
from acme.core.persistence import SqlUnitOfWork
from acme.core.persistence.database import Database
from acme.items.dependencies import ItemsDependencies


class RecordingEvents:
    """A fake :class:`~acme.core.messaging.EventPublisher`: keeps what committed."""

    def __init__(self) -> None:
        self.committed: list[Message] = []

    async def publish(self, uow: SqlUnitOfWork, message: Message) -> None:
        async def keep() -> None:
            self.committed.append(message)

        uow.after_commit(keep)

    def types(self) -> list[str]:
        return [m.type for m in self.committed]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh SQLite file, or a fresh PostgreSQL database."""
    fixture = "sqlite_url" if request.param == "sqlite" else "fresh_postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A database with every installed branch migrated."""
    url = database_url
    await asyncio.to_thread(Migrator(url).upgrade)
    db = Database(url)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
def events() -> RecordingEvents:
    return RecordingEvents()


@pytest.fixture
def deps(database: Database, events: RecordingEvents) -> ItemsDependencies:
    return ItemsDependencies(
        unit_of_work=database.unit_of_work, events=events, reader=database.reader
    )
