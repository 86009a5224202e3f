"""Reaching the real services integration tests run against."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from urllib.parse import urlsplit

from sqlalchemy.engine import URL, make_url

DEFAULT_TEST_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DEFAULT_TEST_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


class ServiceUnavailable(Exception):
    """A service an integration test needs cannot be reached."""


def services_required() -> bool:
    """Whether ``ACME_TEST_REQUIRE_SERVICES=1``: unreachable services then fail, not skip."""
    return os.environ.get("ACME_TEST_REQUIRE_SERVICES", "").strip().lower() in {"1", "true", "yes"}


def _plain_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def _create_database(admin: URL, name: str) -> None:
    import asyncpg

    try:
        connection = await asyncpg.connect(_plain_dsn(admin), timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise ServiceUnavailable(f"PostgreSQL at {admin.render_as_string()}: {exc}") from exc
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def _drop_database(admin: URL, name: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(_plain_dsn(admin), timeout=5)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def create_test_database(admin_url: str | None = None) -> URL:
    """Create a uniquely named database next to the admin one; return its URL."""
    admin = make_url(
        admin_url or os.environ.get("ACME_TEST_DATABASE_URL") or DEFAULT_TEST_DATABASE_URL
    )
    name = f"acme_test_{os.getpid()}_{secrets.token_hex(4)}"
    asyncio.run(_create_database(admin, name))
    return admin.set(database=name)


def drop_test_database(url: URL, admin_url: str | None = None) -> None:
    """Drop a database made by :func:`create_test_database`, closing its sessions."""
    admin = make_url(
        admin_url or os.environ.get("ACME_TEST_DATABASE_URL") or DEFAULT_TEST_DATABASE_URL
    )
    if url.database and url.database.startswith("acme_test_"):
        asyncio.run(_drop_database(admin, url.database))


def check_amqp(url: str | None = None) -> str:
    """Return the broker URL after checking its port answers."""
    amqp_url = url or os.environ.get("ACME_TEST_AMQP_URL") or DEFAULT_TEST_AMQP_URL
    parts = urlsplit(amqp_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 5672
    try:
        with socket.create_connection((host, port), timeout=3):
            pass
    except OSError as exc:
        raise ServiceUnavailable(f"RabbitMQ at {host}:{port}: {exc}") from exc
    return amqp_url


async def delete_rabbitmq_topology(url: str, exchange: str, queues: list[str]) -> None:
    """Delete a test's exchange and queues from a shared broker (missing ones are fine)."""
    import aio_pika

    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        for queue in queues:
            await channel.queue_delete(queue)
        await channel.exchange_delete(exchange)
