"""The accounts branch's latest migration, up and down, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from acme.accounts.tables import metadata
from acme.core.migrations import Migrator


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(
        "sqlite_url" if request.param == "sqlite" else "fresh_postgres_url"
    )
    return url


async def _columns(url: str) -> dict[str, set[str]]:
    """Each table's column names."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: {
                    name: {column["name"] for column in inspect(sync).get_columns(name)}
                    for name in inspect(sync).get_table_names()
                }
            )
    finally:
        await engine.dispose()


async def test_sign_in_attempts_give_way_to_spent_sign_ins_and_back(empty_url: str) -> None:
    migrator = Migrator(empty_url)
    await asyncio.to_thread(migrator.upgrade)
    upgraded = await _columns(empty_url)
    assert "account_sign_in_attempts" not in upgraded
    for table in metadata.sorted_tables:  # the tables module and the migrations agree
        assert upgraded[table.name] == {column.name for column in table.columns}, table.name

    await asyncio.to_thread(migrator.downgrade, "acc_0003")
    downgraded = await _columns(empty_url)
    assert "account_spent_sign_ins" not in downgraded
    assert downgraded["account_sign_in_attempts"] == {
        "state_hash",
        "nonce",
        "code_verifier",
        "return_to",
        "created_at",
        "expires_at",
    }

    await asyncio.to_thread(migrator.upgrade)
    assert await _columns(empty_url) == upgraded
