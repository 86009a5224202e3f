"""Markers every test in the repository gets from what it uses, in one place.

- ``integration``: the test needs a real service: it uses a PostgreSQL or
  RabbitMQ fixture of ``acme.core.testing``, or runs on a parameter naming
  PostgreSQL. So ``pytest -m "not integration"`` needs no service at all.
- ``system``: the test starts a whole stack or restarts a service (marked
  by its module). The README's test command leaves these out; ``.ci/run``
  runs them in a stage of their own (``hatch run test-system``).
"""

from __future__ import annotations

import pytest

SERVICE_FIXTURES = frozenset(
    {"postgres_url", "fresh_postgres_url", "migrated_postgres_url", "amqp_url"}
)


def _uses_a_service(item: pytest.Item) -> bool:
    if SERVICE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
        return True
    callspec = getattr(item, "callspec", None)
    return callspec is not None and any(
        "postgresql" in str(value) for value in callspec.params.values()
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("system") is not None or _uses_a_service(item):
            item.add_marker(pytest.mark.integration)
