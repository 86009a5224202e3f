"""A database the API cannot reach: the log names the driver's cause, the client sees a 503."""

from __future__ import annotations

import logging
import secrets
import socket
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from acme.core.persistence.database import Database

from .conftest import client_of, make_settings, running_app

PASSWORD = "pw-" + secrets.token_hex(8)


@pytest.fixture
async def role_without_connections(postgres_url: str) -> AsyncIterator[str]:
    """A login role refused every connection (53300, as when the server's slots run out)."""
    name = f"acme_api_no_slots_{secrets.token_hex(4)}"
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


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def me_with_the_database_at(url: str) -> httpx.Response:
    """``GET /accounts/me`` with a valid token: the account lookup is the first database use."""
    async with running_app(make_settings(database_url=url, db_pool_timeout=5)) as app:
        token = app.state.container.accounts.tokens.issue(str(uuid.uuid4())).token
        async with client_of(app, "http://testserver") as http:
            return await http.get("/accounts/me", headers={"Authorization": f"Bearer {token}"})


def assert_generic_503(response: httpx.Response) -> None:
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    body = response.json()
    assert (body["code"], body["detail"]) == ("database_unavailable", "database unreachable")
    for internal in ("SQLSTATE", "Error", "role", "Connect call", PASSWORD):
        assert internal not in response.text


def logged_unavailable(caplog: pytest.LogCaptureFixture) -> str:
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.name == "acme_api.problems" and r.levelno == logging.WARNING
    ]
    assert len(lines) == 1, lines
    return lines[0]


async def test_a_connection_shortage_logs_the_driver_message_and_sqlstate(
    postgres_url: str, role_without_connections: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = make_url(postgres_url).set(username=role_without_connections, password=PASSWORD)
    caplog.set_level(logging.WARNING, logger="acme_api.problems")
    response = await me_with_the_database_at(url.render_as_string(hide_password=False))
    assert_generic_503(response)
    assert logged_unavailable(caplog) == (
        "Unavailable: database unreachable: TooManyConnectionsError [SQLSTATE 53300]: "
        f'too many connections for role "{role_without_connections}"'
    )
    assert PASSWORD not in caplog.text


async def test_a_refused_connection_logs_the_socket_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = closed_port()
    caplog.set_level(logging.WARNING, logger="acme_api.problems")
    response = await me_with_the_database_at(
        f"postgresql+asyncpg://app:{PASSWORD}@127.0.0.1:{port}/app"
    )
    assert_generic_503(response)
    line = logged_unavailable(caplog)
    assert line.startswith("Unavailable: database unreachable: ConnectionRefusedError: ")
    assert f"Connect call failed ('127.0.0.1', {port})" in line
    assert PASSWORD not in caplog.text
