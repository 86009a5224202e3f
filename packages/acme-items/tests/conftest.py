"""Fixtures for acme-items: the use cases' ports on three backends.

``deps`` is parametrised: ``fake`` (the in-memory fakes of tests/fakes.py, no
database), ``sqlite`` and ``postgresql`` (the SQL adapters on a migrated
database). Every use-case test runs on all three, so the fakes keep to what
SQL does; ``-m "not integration"`` runs the fake and SQLite ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from acme.core.messaging import Message
from acme.core.migrations import Migrator
from acme.core.persistence import SqlUnitOfWork
from acme.core.persistence.database import Database
from acme.items.dependencies import ItemsDependencies, setup

from .fakes import FakeItemRepository, FakeItemsUnitOfWork


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


@pytest.fixture
def events() -> RecordingEvents:
    return RecordingEvents()


@pytest.fixture(params=["fake", "sqlite", "postgresql"])
def backend_url(request: pytest.FixtureRequest) -> str | None:
    """None for the fakes; a fresh SQLite file or a fresh PostgreSQL database."""
    if request.param == "fake":
        return None
    fixture = "sqlite_url" if request.param == "sqlite" else "fresh_postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
async def deps(
    backend_url: str | None, events: RecordingEvents
) -> AsyncIterator[ItemsDependencies]:
    """The items ports on the fakes, or on a migrated SQLite or PostgreSQL database."""
    if backend_url is None:
        repository = FakeItemRepository()
        yield ItemsDependencies(
            unit_of_work=lambda: FakeItemsUnitOfWork(repository, events.committed)
        )
        return
    await asyncio.to_thread(Migrator(backend_url).upgrade)
    database = Database(backend_url)
    try:
        yield setup(unit_of_work=database.unit_of_work, events=events, reader=database.reader)
    finally:
        await database.dispose()
