"""acme-core's database through a real PgBouncer (Debian's 1.18, transaction mode).

With ``ACME_DB_PGBOUNCER`` on, concurrent units of work all succeed and run on
the role's statement_timeout; without it PgBouncer refuses every connection,
because of the statement_timeout startup parameter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from stackkit import PgBouncer, pgbouncer_setting

from acme.core.config import AcmeSettings, load_settings
from acme.core.persistence.database import Database
from acme.core.secrets import EnvironmentSecrets

pytestmark = [pytest.mark.integration, pytest.mark.system, pytest.mark.operations]


def database(bouncer: PgBouncer, **extra: str) -> Database:
    values = {"ACME_DATABASE_URL": bouncer.database_url(), "ACME_DB_POOL_SIZE": "10"}
    return Database.from_settings(
        load_settings(AcmeSettings, secrets=EnvironmentSecrets(values | extra))
    )


async def failures(db: Database, count: int) -> list[str]:
    """Run ``count`` small parameterised transactions, 20 at a time; the errors they raised."""
    errors: list[str] = []
    gate = asyncio.Semaphore(20)

    async def one(number: int) -> None:
        async with gate:
            try:
                async with db.engine.begin() as connection:
                    query = text("SELECT CAST(:n AS integer) + 1")
                    value = (await connection.execute(query, {"n": number})).scalar_one()
                    assert value == number + 1
            except DBAPIError as exc:
                errors.append(str(exc.orig))

    await asyncio.gather(*(one(number) for number in range(count)))
    return errors


async def scalar(db: Database, query: str) -> object:
    async with db.engine.connect() as connection:
        return (await connection.execute(text(query))).scalar_one()


async def disposing(db: Database, work: Callable[[Database], Awaitable[object]]) -> object:
    try:
        return await work(db)
    finally:
        await db.dispose()


def test_the_shipped_configuration_pools_transactions() -> None:
    assert pgbouncer_setting("pool_mode") == "transaction"


async def test_with_the_switch_every_transaction_succeeds(pgbouncer: PgBouncer) -> None:
    db = database(pgbouncer, ACME_DB_PGBOUNCER="true")
    try:
        assert await failures(db, 300) == []
        # The role's timeout (the pgbouncer fixture sets it), not a startup parameter.
        assert await scalar(db, "SHOW statement_timeout") == "30s"
    finally:
        await db.dispose()
    pools = {row["database"]: row for row in pgbouncer.show("POOLS")}
    assert pools["acme"]["pool_mode"] == "transaction"
    # Far fewer server connections than the 20 clients that ran at once.
    servers = int(pools["acme"]["sv_idle"]) + int(pools["acme"]["sv_active"])
    assert 1 <= servers <= int(pgbouncer_setting("default_pool_size"))


async def test_without_the_switch_pgbouncer_refuses_the_connection(pgbouncer: PgBouncer) -> None:
    db = database(pgbouncer)
    errors = await disposing(db, lambda db: failures(db, 5))
    assert isinstance(errors, list)
    assert len(errors) == 5
    assert all("unsupported startup parameter: statement_timeout" in e for e in errors), errors[:1]
