"""Test support for acme-core and every package built on it.

Installing acme-core registers :mod:`acme.core.testing.plugin` with pytest,
which provides fixtures for real PostgreSQL and RabbitMQ (one fresh database
per run) and the skip-or-fail policy for unreachable services.
"""

from __future__ import annotations

from ._services import (
    DEFAULT_TEST_AMQP_URL,
    DEFAULT_TEST_DATABASE_URL,
    ServiceUnavailable,
    delete_rabbitmq_topology,
    services_required,
)

__all__ = [
    "DEFAULT_TEST_AMQP_URL",
    "DEFAULT_TEST_DATABASE_URL",
    "ServiceUnavailable",
    "delete_rabbitmq_topology",
    "services_required",
]
