"""The service fixtures skip loudly when a service is down, and fail when services are required."""

from __future__ import annotations

import re
import socket

import pytest

USES_POSTGRES = """
def test_needs_postgres(postgres_url):
    assert postgres_url
"""

USES_RABBITMQ = """
def test_needs_rabbitmq(amqp_url):
    assert amqp_url
"""


@pytest.fixture(autouse=True)
def _inner_config(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    port = closed_port()
    monkeypatch.setenv(
        "ACME_TEST_DATABASE_URL", f"postgresql+asyncpg://postgres@127.0.0.1:{port}/x"
    )
    monkeypatch.setenv("ACME_TEST_AMQP_URL", f"amqp://guest:guest@127.0.0.1:{port}/")


@pytest.mark.parametrize("source", [USES_POSTGRES, USES_RABBITMQ])
@pytest.mark.usefixtures("unreachable")
def test_unreachable_service_skips_with_the_reason(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    monkeypatch.delenv("ACME_TEST_REQUIRE_SERVICES", raising=False)
    pytester.makepyfile(source)
    result = pytester.runpytest("-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*SERVICE UNREACHABLE, test skipped:*127.0.0.1*"])


@pytest.mark.parametrize("source", [USES_POSTGRES, USES_RABBITMQ])
@pytest.mark.usefixtures("unreachable")
def test_unreachable_service_fails_when_services_are_required(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    monkeypatch.setenv("ACME_TEST_REQUIRE_SERVICES", "1")
    pytester.makepyfile(source)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*required service unreachable (ACME_TEST_REQUIRE_SERVICES=1)*"])


@pytest.mark.integration  # its inner runs need PostgreSQL
def test_each_run_gets_its_own_database(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_name(postgres_url):
            print("DATABASE", postgres_url.rsplit("/", 1)[-1])
        """
    )
    first = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    second = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    names = []
    for result in (first, second):
        result.assert_outcomes(passed=1)
        names += re.findall(r"DATABASE (acme_test_\w+)", result.stdout.str())
    assert len(names) == 2
    assert names[0] != names[1]
    assert all(name.startswith("acme_test_") for name in names)
