"""pytest fixtures for real PostgreSQL and RabbitMQ (opt in: ``-p acme.core.testing.plugin``).

- ``postgres_url``: a fresh PostgreSQL database for the whole run, dropped at the end;
- ``fresh_postgres_url``: a fresh PostgreSQL database for one test;
- ``sqlite_url``: a fresh SQLite file per test;
- ``amqp_url``: the RabbitMQ URL, checked reachable;
- ``run_id``: a short id unique to this run, for broker names that must not clash.

URLs come from ``ACME_TEST_DATABASE_URL`` and ``ACME_TEST_AMQP_URL`` (localhost
defaults). An unreachable service skips its tests with the reason, or fails
them when ``ACME_TEST_REQUIRE_SERVICES=1`` (CI sets it).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from ._services import (
    ServiceUnavailable,
    check_amqp,
    create_test_database,
    drop_test_database,
    services_required,
)

__all__ = [
    "amqp_url",
    "fresh_postgres_url",
    "postgres_url",
    "run_id",
    "sqlite_url",
    "unavailable",
]


def unavailable(reason: str) -> None:
    """Skip (or, when services are required, fail) the current test."""
    if services_required():
        pytest.fail(f"required service unreachable (ACME_TEST_REQUIRE_SERVICES=1): {reason}")
    pytest.skip(f"SERVICE UNREACHABLE, test skipped: {reason}")


@pytest.fixture(scope="session")
def run_id() -> str:
    """A short identifier unique to this test run."""
    return secrets.token_hex(4)


def _new_database() -> Iterator[str]:
    try:
        url = create_test_database()
    except ServiceUnavailable as exc:
        unavailable(str(exc))
        raise AssertionError("unreachable") from exc
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        drop_test_database(url)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database (asyncpg URL) for this run."""
    yield from _new_database()


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test (for tests that own the whole schema)."""
    yield from _new_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A new SQLite database file (aiosqlite URL) for one test."""
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(scope="session")
def amqp_url() -> str:
    """The RabbitMQ URL, after checking the broker answers."""
    try:
        return check_amqp()
    except ServiceUnavailable as exc:
        unavailable(str(exc))
        raise AssertionError("unreachable") from exc
