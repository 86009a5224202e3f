"""The message bus port."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from ._message import Message

__all__ = ["Handler", "MessageBus"]

Handler = Callable[[Message], Awaitable[None]]


class MessageBus(Protocol):
    """Publishes events and delivers them to subscribed handlers.

    Delivery is at least once: a handler may see a message again after a
    failure or a broker restart, so handlers that change state go through
    the idempotent-consumer helper. Topics are message types, with ``*``
    matching one dotted word and ``#`` any number (``item.*``, ``#``).
    """

    async def publish(self, message: Message) -> None:
        """Send one message; returns once the transport has accepted it."""
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
