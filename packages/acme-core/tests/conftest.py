"""Shared fixtures for acme-core's tests (the service fixtures come from acme.core.testing)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from acme.core.migrations import Migrator
from acme.core.persistence.database import Database


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Run a test on both supported databases: a fresh SQLite file and the run's PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest) -> str:
    """Like ``database_url``, but a database of its own even on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "fresh_postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
async def core_database(empty_database_url: str) -> AsyncIterator[Database]:
    """A database with core's own tables (outbox, processed messages), on both backends."""
    migrator = Migrator(empty_database_url)
    migrator.branches = [b for b in migrator.branches if b.name == "core"]
    await asyncio.to_thread(migrator.upgrade)
    db = Database(empty_database_url)
    try:
        yield db
    finally:
        await db.dispose()
