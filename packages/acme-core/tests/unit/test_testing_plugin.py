"""The service fixtures skip loudly when a service is down, and fail when services are required."""

from __future__ import annotations

import re
import socket

import pytest

PLUGIN = "acme.core.testing.plugin"  # suites opt in; nothing loads uninvited
# The inner runs need none of the heavy plugins installed beside pytest.
LEAN = ("-p", "no:cacheprovider", "-p", "no:schemathesis", "-p", "no:hypothesispytest")

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


# Each case runs pytest in a process of its own: an in-process run that
# tries to reach the closed ports leaves the interpreter unstable (a later
# test in this process crashed). Both fixtures go through one run per case.


@pytest.mark.usefixtures("unreachable")
def test_unreachable_services_skip_with_the_reason(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACME_TEST_REQUIRE_SERVICES", raising=False)
    pytester.makepyfile(USES_POSTGRES + USES_RABBITMQ)
    result = pytester.runpytest_subprocess("-rs", *LEAN, "-p", PLUGIN)
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*SERVICE UNREACHABLE, test skipped: PostgreSQL*127.0.0.1*"])
    result.stdout.fnmatch_lines(["*SERVICE UNREACHABLE, test skipped: RabbitMQ*127.0.0.1*"])


@pytest.mark.usefixtures("unreachable")
def test_unreachable_services_fail_when_services_are_required(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_TEST_REQUIRE_SERVICES", "1")
    pytester.makepyfile(USES_POSTGRES + USES_RABBITMQ)
    result = pytester.runpytest_subprocess(*LEAN, "-p", PLUGIN)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*required service unreachable (ACME_TEST_REQUIRE_SERVICES=1)*"])


@pytest.mark.integration  # its inner runs need PostgreSQL
def test_each_run_gets_its_own_database(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_name(postgres_url):
            print("DATABASE", postgres_url.rsplit("/", 1)[-1])
        """
    )
    first = pytester.runpytest_subprocess("-s", *LEAN, "-p", PLUGIN)
    second = pytester.runpytest_subprocess("-s", *LEAN, "-p", PLUGIN)
    names = []
    for result in (first, second):
        result.assert_outcomes(passed=1)
        names += re.findall(r"DATABASE (acme_test_\w+)", result.stdout.str())
    assert len(names) == 2
    assert names[0] != names[1]
    assert all(name.startswith("acme_test_") for name in names)


def test_the_plugin_does_not_load_uninvited(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USES_POSTGRES)
    result = pytester.runpytest_subprocess(*LEAN)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'postgres_url' not found*"])
