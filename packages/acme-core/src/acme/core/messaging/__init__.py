"""Messaging: events, the ports they travel through, and idempotent consumers.

The package exports ports, value types and pure functions:

- :class:`Message`; :class:`MessageBus`, the bus port; :class:`EventPublisher`,
  the port components publish through (inside their unit of work);
  :class:`DeliveryFailed` and :class:`Unroutable`;
- :func:`idempotent` wraps a handler so a redelivered message has no second
  effect, :func:`idempotent_batch` a batch handler (:class:`BatchBus`), its claim
  and effect one statement on PostgreSQL when the effect reads :data:`CLAIMED`;
  :func:`topic_matches`.

Adapters are imported from their own modules, by the composition root only
(an import-linter contract checks it): :mod:`.memory` (``InProcessBus``, the
embedded default), :mod:`.rabbitmq` (``RabbitMQBus``; needs
``acme-core[rabbitmq]``), :mod:`.outbox` (``Outbox``, the table writer),
:mod:`.publisher` (``OutboxPublisher``, the :class:`EventPublisher` on the
outbox) and :mod:`.relay` (``OutboxRelay``, which moves committed rows to the bus).
"""

from __future__ import annotations

from ._message import Message
from ._port import (
    BatchBus,
    BatchHandler,
    DeliveryFailed,
    EventPublisher,
    Handler,
    MessageBus,
    Unroutable,
)
from .idempotency import CLAIMED, OneStatement, idempotent, idempotent_batch
from .memory import topic_matches

__all__ = [
    "CLAIMED",
    "BatchBus",
    "BatchHandler",
    "DeliveryFailed",
    "EventPublisher",
    "Handler",
    "Message",
    "MessageBus",
    "OneStatement",
    "Unroutable",
    "idempotent",
    "idempotent_batch",
    "topic_matches",
]
