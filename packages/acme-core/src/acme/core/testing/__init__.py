"""Test support for acme-core and every package built on it.

A test suite opts into :mod:`acme.core.testing.plugin` (``-p
acme.core.testing.plugin``, or ``pytest_plugins`` in its top conftest),
which provides fixtures for real PostgreSQL and RabbitMQ (one fresh database
per run) and the skip-or-fail policy for unreachable services. Beside them:
:mod:`.fakes` (in-memory fakes of the ports), :mod:`.waiting` (loopback ports
and polling), :mod:`.processes` (servers stopped by process group), :mod:`.oidc`
(a loopback OpenID provider) and :mod:`.rabbitmq_node` (a private broker node).
"""

from __future__ import annotations

from ._services import (
    DEFAULT_TEST_AMQP_URL,
    DEFAULT_TEST_DATABASE_URL,
    ServiceUnavailable,
    delete_rabbitmq_topology,
    services_required,
)
from .processes import stop_process_group
from .waiting import accepts_connections, eventually, free_port, wait_until

__all__ = [
    "DEFAULT_TEST_AMQP_URL",
    "DEFAULT_TEST_DATABASE_URL",
    "ServiceUnavailable",
    "accepts_connections",
    "delete_rabbitmq_topology",
    "eventually",
    "free_port",
    "services_required",
    "stop_process_group",
    "wait_until",
]
