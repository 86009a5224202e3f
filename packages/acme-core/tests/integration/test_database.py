from __future__ import annotations

import asyncio
import socket

import pytest
from sqlalchemy import text
from sqlalchemy.pool import QueuePool

from acme.core.config import AcmeSettings, load_settings
from acme.core.errors import Invalid, Unavailable
from acme.core.persistence.database import Database
from acme.core.secrets import EnvironmentSecrets


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_ping_answers_on_both_databases(database_url: str) -> None:
    db = Database(database_url)
    try:
        await db.ping()
    finally:
        await db.dispose()


async def test_ping_raises_unavailable_when_the_server_is_down() -> None:
    db = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/x", pool_timeout=2)
    try:
        with pytest.raises(Unavailable, match="database unreachable"):
            await db.ping()
    finally:
        await db.dispose()


async def test_postgres_sessions_get_the_statement_timeout(postgres_url: str) -> None:
    db = Database(postgres_url, statement_timeout_ms=1234)
    try:
        async with db.engine.connect() as connection:
            value = (await connection.execute(text("SHOW statement_timeout"))).scalar_one()
            name = (await connection.execute(text("SHOW application_name"))).scalar_one()
        assert value == "1234ms"
        assert name == "acme"
    finally:
        await db.dispose()


async def test_sqlite_enforces_foreign_keys(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        async with db.engine.connect() as connection:
            assert (await connection.execute(text("PRAGMA foreign_keys"))).scalar_one() == 1
    finally:
        await db.dispose()


def test_bad_urls_and_missing_drivers_are_explained() -> None:
    with pytest.raises(Invalid, match="not a database URL"):
        Database("no url at all")
    with pytest.raises(
        Invalid, match="unsupported database URL scheme 'postgresql\\+nosuchdriver'"
    ):
        Database("postgresql+nosuchdriver://x/y")
    with pytest.raises(Invalid, match="the database driver 'psycopg' is not installed"):
        Database("postgresql+psycopg://x/y")


def test_the_password_never_shows_in_the_repr() -> None:
    db = Database("postgresql+asyncpg://app:hunter2-pass@db.example/app")
    assert "hunter2-pass" not in repr(db)


async def test_a_read_only_unit_of_work_reads_without_a_transaction(database_url: str) -> None:
    database = Database(database_url)
    try:
        async with database.reader() as uow:
            assert (await uow.connection.execute(text("SELECT 1"))).scalar_one() == 1
            with pytest.raises(RuntimeError, match="read-only"):
                await uow.commit()
        if database.is_postgresql:
            # Inside a transaction now() is fixed; in autocommit each statement has its own.
            async with database.reader() as uow:
                first = (await uow.connection.execute(text("SELECT now()"))).scalar_one()
                await uow.connection.execute(text("SELECT pg_sleep(0.01)"))
                second = (await uow.connection.execute(text("SELECT now()"))).scalar_one()
            assert second > first
            async with database.unit_of_work() as uow:
                first = (await uow.connection.execute(text("SELECT now()"))).scalar_one()
                await uow.connection.execute(text("SELECT pg_sleep(0.01)"))
                second = (await uow.connection.execute(text("SELECT now()"))).scalar_one()
            assert second == first
    finally:
        await database.dispose()


async def test_an_idle_connection_killed_by_the_server_is_replaced_unnoticed(
    postgres_url: str,
) -> None:
    database = Database(postgres_url, pool_size=1, max_overflow=0, pre_ping_after=0.05)
    try:
        async with database.reader() as uow:
            pid = (await uow.connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        # Another session ends the pooled connection, as a server restart would.
        other = Database(postgres_url)
        try:
            async with other.engine.connect() as connection:
                await connection.execute(text(f"SELECT pg_terminate_backend({int(pid)})"))
        finally:
            await other.dispose()
        await asyncio.sleep(0.1)
        async with database.reader() as uow:
            new_pid = (await uow.connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert new_pid != pid
    finally:
        await database.dispose()


async def test_from_settings_applies_the_pool_and_timeout_settings(postgres_url: str) -> None:
    settings = load_settings(
        AcmeSettings,
        secrets=EnvironmentSecrets(
            {
                "ACME_DATABASE_URL": postgres_url,
                "ACME_DB_POOL_SIZE": "3",
                "ACME_DB_MAX_OVERFLOW": "2",
                "ACME_DB_POOL_TIMEOUT": "1.5",
                "ACME_DB_STATEMENT_TIMEOUT_MS": "4321",
            }
        ),
    )
    db = Database.from_settings(settings, application_name="acme-test")
    try:
        pool = db.engine.pool
        assert isinstance(pool, QueuePool)
        assert (pool.size(), pool._max_overflow, pool.timeout()) == (3, 2, 1.5)
        async with db.engine.connect() as connection:
            value = (await connection.execute(text("SHOW statement_timeout"))).scalar_one()
            name = (await connection.execute(text("SHOW application_name"))).scalar_one()
        assert (value, name) == ("4321ms", "acme-test")
    finally:
        await db.dispose()


async def prepared_statements_after_queries(db: Database) -> int:
    """How many named prepared statements the session holds after a few parameterised queries."""
    async with db.engine.connect() as connection:
        for number in range(3):
            await connection.execute(text("SELECT CAST(:n AS integer) + 1"), {"n": number})
        query = text("SELECT count(*) FROM pg_prepared_statements")
        return int((await connection.execute(query)).scalar_one())


async def test_the_pgbouncer_switch_prepares_nothing_and_sends_no_timeout(
    postgres_url: str,
) -> None:
    def settings(**extra: str) -> AcmeSettings:
        values = {"ACME_DATABASE_URL": postgres_url, "ACME_DB_STATEMENT_TIMEOUT_MS": "4321"}
        return load_settings(AcmeSettings, secrets=EnvironmentSecrets(values | extra))

    direct = Database.from_settings(settings())
    bounced = Database.from_settings(settings(ACME_DB_PGBOUNCER="true"))
    try:
        # Direct connections keep their statements prepared; through PgBouncer's
        # transaction mode a named statement may be looked up on another server
        # connection, so none is kept.
        assert await prepared_statements_after_queries(direct) > 0
        assert await prepared_statements_after_queries(bounced) == 0
        async with bounced.engine.connect() as connection:
            value = (await connection.execute(text("SHOW statement_timeout"))).scalar_one()
            name = (await connection.execute(text("SHOW application_name"))).scalar_one()
        # The role's (here the server's) timeout, not a startup parameter PgBouncer would refuse.
        assert (value, name) == ("0", "acme")
    finally:
        await direct.dispose()
        await bounced.dispose()
