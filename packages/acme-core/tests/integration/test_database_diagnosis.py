"""What the log learns when PostgreSQL cannot be reached: the driver's words and SQLSTATE.

Each case is a real refusal by a real server (or a closed port): the
``Unavailable`` keeps a generic ``detail`` for clients and a ``diagnostic``
naming the cause for operators, never a password.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from acme.core.errors import Unavailable
from acme.core.persistence._diagnosis import diagnose
from acme.core.persistence.database import Database

PASSWORD = "pw-" + secrets.token_hex(8)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def with_user(url: str, user: str, *, database: str | None = None) -> str:
    changed = make_url(url).set(username=user, password=PASSWORD)
    if database is not None:
        changed = changed.set(database=database)
    return changed.render_as_string(hide_password=False)


@pytest.fixture
async def role_without_connections(postgres_url: str) -> AsyncIterator[str]:
    """A login role the server refuses every connection to (53300, as when slots run out)."""
    name = f"acme_no_slots_{secrets.token_hex(4)}"
    admin = Database(postgres_url)
    try:
        async with admin.engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text(f"CREATE ROLE {name} LOGIN CONNECTION LIMIT 0"))
        yield name
        async with admin.engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text(f"DROP ROLE IF EXISTS {name}"))
    finally:
        await admin.dispose()


async def enter(db: Database) -> None:
    async with db.unit_of_work():
        pass


async def ping(db: Database) -> None:
    await db.ping()


async def unavailable_from(url: str, attempt: Callable[[Database], Awaitable[None]]) -> Unavailable:
    db = Database(url, pool_timeout=5)
    try:
        with pytest.raises(Unavailable) as caught:
            await attempt(db)
    finally:
        await db.dispose()
    error = caught.value
    assert error.detail == "database unreachable"  # what a client may see: nothing more
    assert error.code == "database_unavailable"
    assert error.diagnostic is not None
    assert PASSWORD not in error.diagnostic
    return error


@pytest.mark.parametrize("attempt", [enter, ping])
async def test_a_refused_connection_names_the_socket_error(
    attempt: Callable[[Database], Awaitable[None]],
) -> None:
    url = f"postgresql+asyncpg://app:{PASSWORD}@127.0.0.1:{closed_port()}/app"
    error = await unavailable_from(url, attempt)
    assert error.diagnostic is not None
    assert error.diagnostic.startswith("ConnectionRefusedError: ")
    assert "Connect call failed" in error.diagnostic
    assert "SQLSTATE" not in error.diagnostic  # no server answered


@pytest.mark.parametrize("attempt", [enter, ping])
async def test_an_unknown_role_names_the_role_and_sqlstate_28000(
    postgres_url: str, attempt: Callable[[Database], Awaitable[None]]
) -> None:
    role = f"acme_nobody_{secrets.token_hex(4)}"
    error = await unavailable_from(with_user(postgres_url, role), attempt)
    assert error.diagnostic == (
        f'InvalidAuthorizationSpecificationError [SQLSTATE 28000]: role "{role}" does not exist'
    )


async def test_an_unknown_database_names_it_and_sqlstate_3d000(postgres_url: str) -> None:
    missing = f"acme_none_{secrets.token_hex(4)}"
    url = with_user(postgres_url, "postgres", database=missing)
    error = await unavailable_from(url, enter)
    assert error.diagnostic == (
        f'InvalidCatalogNameError [SQLSTATE 3D000]: database "{missing}" does not exist'
    )


@pytest.mark.parametrize("attempt", [enter, ping])
async def test_a_connection_shortage_names_sqlstate_53300(
    postgres_url: str, role_without_connections: str, attempt: Callable[[Database], Awaitable[None]]
) -> None:
    error = await unavailable_from(with_user(postgres_url, role_without_connections), attempt)
    assert error.diagnostic == (
        "TooManyConnectionsError [SQLSTATE 53300]: "
        f'too many connections for role "{role_without_connections}"'
    )


def test_the_statement_its_parameters_and_url_passwords_stay_out() -> None:
    driver_error = OSError(f"cannot reach postgresql://app:{PASSWORD}@db:5432/app\nretrying")
    wrapped = DBAPIError("UPDATE accounts SET hash = :hash", {"hash": "s3cr3t-hash"}, driver_error)
    said = diagnose(wrapped)
    assert said == "OSError: cannot reach postgresql://app:***@db:5432/app retrying"
    assert len(diagnose(OSError("x" * 5000))) == 500
