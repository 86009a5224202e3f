"""Messaging: events, the bus port, the transactional outbox and idempotent consumers.

- :class:`Message`, :class:`MessageBus` (the port), :class:`InProcessBus` (the
  embedded default); the RabbitMQ adapter is
  :class:`acme.core.messaging.rabbitmq.RabbitMQBus`, built only by the API's
  composition root (it needs ``acme-core[rabbitmq]``);
- :class:`EventPublisher`, the port components publish through, and
  :class:`OutboxPublisher`, which writes to the outbox in the caller's unit of
  work; :class:`OutboxRelay` moves committed rows to the bus;
- :func:`idempotent` wraps a handler so a redelivered message has no second
  effect.
"""

from __future__ import annotations

from ._message import Message
from ._port import DeliveryFailed, Handler, MessageBus, Unroutable
from .idempotency import ProcessedMessages, idempotent
from .memory import InProcessBus, topic_matches
from .outbox import Outbox
from .publisher import EventPublisher, OutboxPublisher
from .relay import OutboxRelay

__all__ = [
    "DeliveryFailed",
    "EventPublisher",
    "Handler",
    "InProcessBus",
    "Message",
    "MessageBus",
    "Outbox",
    "OutboxPublisher",
    "OutboxRelay",
    "ProcessedMessages",
    "Unroutable",
    "idempotent",
    "topic_matches",
]
