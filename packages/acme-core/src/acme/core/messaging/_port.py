"""The messaging ports: the bus, and the event publisher components write through."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, runtime_checkable

from acme.core.errors import Unavailable
from acme.core.persistence import SqlUnitOfWork

from ._message import Message

__all__ = [
    "BatchBus",
    "BatchHandler",
    "DeliveryFailed",
    "EventPublisher",
    "Handler",
    "MessageBus",
    "Unroutable",
]

Handler = Callable[[Message], Awaitable[None]]
BatchHandler = Callable[[Sequence[Message]], Awaitable[None]]
"""Handles several messages at once; raising fails them all (the bus then tries them one by one)."""


class DeliveryFailed(Unavailable):
    """The transport did not accept a message (broker down, connection lost, nack).

    Nothing is known about the message's fate; a publisher keeps it and tries
    again later (consumers are idempotent, so a duplicate is harmless).
    """

    default_code = "delivery_failed"


class Unroutable(DeliveryFailed):
    """The broker accepted the connection but no queue is bound for the message's type.

    An unroutable message is an error, not silence: the outbox keeps the row
    pending until a consumer's queue exists.
    """

    default_code = "unroutable"


class MessageBus(Protocol):
    """Publishes events and delivers them to subscribed handlers.

    Delivery is at least once: a handler may see a message again after a
    failure or a broker restart, so handlers that change state go through
    the idempotent-consumer helper. Topics are message types, with ``*``
    matching one dotted word and ``#`` any number (``item.*``, ``#``).
    """

    async def publish(self, message: Message) -> None:
        """Send one message; returns once the transport has accepted it.

        Raises:
            DeliveryFailed: the transport did not confirm the message.
            Unroutable: no subscription matches the message's type.
        """
        ...

    def subscribe(self, topic: str, handler: Handler, *, consumer: str) -> None:
        """Deliver messages whose type matches ``topic`` to ``handler``.

        ``consumer`` names the subscription (a durable queue on RabbitMQ);
        call before :meth:`start`.
        """
        ...

    async def start(self) -> None:
        """Connect and begin delivering to subscribers."""
        ...

    async def close(self) -> None:
        """Stop delivering, let in-flight handlers finish, disconnect."""
        ...

    async def ping(self) -> None:
        """Check the transport answers (readiness).

        Raises:
            Unavailable: it does not.
        """
        ...


@runtime_checkable
class BatchBus(Protocol):
    """A bus that also moves messages in batches (optional: check with ``isinstance``).

    The relay hands it a whole claimed batch, and a consumer that opts in
    gets the batch's matching messages in one call, so its claim and effect
    cost one transaction per batch instead of one per message.
    """

    def subscribe_batch(self, topic: str, handler: BatchHandler, *, consumer: str) -> None:
        """Like :meth:`MessageBus.subscribe`, delivering lists of messages."""
        ...

    async def publish_batch(self, messages: Sequence[Message]) -> list[Exception | None]:
        """Send several messages; one outcome per message, ``None`` when accepted.

        An outcome is :class:`Unroutable` or :class:`DeliveryFailed`, as
        :meth:`MessageBus.publish` would raise for that message.
        """
        ...


class EventPublisher(Protocol):
    """The port components publish through: ``await events.publish(uow, message)``.

    The message leaves if and only if the unit of work commits.
    """

    async def publish(self, uow: SqlUnitOfWork, message: Message) -> None:
        """Queue ``message`` in ``uow``'s transaction."""
        ...
