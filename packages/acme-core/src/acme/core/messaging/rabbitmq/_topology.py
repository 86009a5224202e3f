"""The RabbitMQ bus's topology: what it names and declares, apart from how it moves messages.

Per bus (``exchange``) and per subscription (``consumer``); queue names start
with the exchange's, so two deployments can share a virtual host:

- ``<exchange>``: a durable topic exchange; a message's type is its routing key;
- ``<exchange>.<consumer>``: a durable queue (a quorum queue where the server
  supports them) bound with each of the consumer's topics, dead-lettering to
  its ``.dead`` queue after too many redeliveries (a message that crashes its
  consumer every time);
- ``<exchange>.<consumer>.retry.<ms>``: one durable delay queue per backoff
  step; a failed message waits there for its TTL, then returns to its queue only;
- ``<exchange>.<consumer>.dead``: the dead-letter queue, where a message lands
  after ``max_attempts`` failed attempts (headers say why), for an operator.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aio_pika.abc import AbstractChannel, AbstractQueue, AbstractRobustConnection

__all__ = ["QUORUM_SINCE", "Topology", "aio_pika_module", "server_version"]

QUORUM_SINCE = (3, 8)


def aio_pika_module() -> Any:
    """aio-pika, imported when first needed (the ``rabbitmq`` extra)."""
    try:
        import aio_pika
    except ModuleNotFoundError:  # pragma: no cover - depends on the install
        raise ImportError(
            "the RabbitMQ bus needs aio-pika: pip install 'acme-core[rabbitmq]'"
        ) from None
    return aio_pika


def queued_publish(channel: object) -> dict[str, Any]:
    """The ``basic_publish`` option that lets go of ``channel`` once the frame is queued
    (``wait=False``), when its ``basic_publish`` takes one: aiormq's ``Channel`` does,
    its abstract interface does not."""
    kind = type(channel)
    if kind not in _QUEUED_PUBLISH:
        publish = getattr(channel, "basic_publish", None)
        try:
            takes_wait = publish is not None and "wait" in inspect.signature(publish).parameters
        except (TypeError, ValueError):  # no signature to read
            takes_wait = False
        _QUEUED_PUBLISH[kind] = {"wait": False} if takes_wait else {}
    return _QUEUED_PUBLISH[kind]


_QUEUED_PUBLISH: dict[type, dict[str, Any]] = {}


def server_version(connection: AbstractRobustConnection) -> tuple[int, ...]:
    """The broker's version, from the connection's server properties."""
    transport = connection.transport
    properties = getattr(getattr(transport, "connection", None), "server_properties", {}) or {}
    raw = properties.get("version", b"0")
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    parts = []
    for piece in text.split("."):
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return tuple(parts)


@dataclass(frozen=True, slots=True)
class Topology:
    """The names and queue arguments of one bus."""

    exchange: str
    retry_delays: tuple[float, ...]
    max_attempts: int
    quorum: bool

    def queue_name(self, consumer: str) -> str:
        return f"{self.exchange}.{consumer}"

    def dead_letter_queue_name(self, consumer: str) -> str:
        return f"{self.queue_name(consumer)}.dead"

    def retry_queue_name(self, consumer: str, delay: float) -> str:
        return f"{self.queue_name(consumer)}.retry.{round(delay * 1000)}ms"

    def queue_names(self, consumer: str) -> list[str]:
        """Every queue declared for ``consumer``."""
        return [
            self.queue_name(consumer),
            self.dead_letter_queue_name(consumer),
            *(self.retry_queue_name(consumer, d) for d in sorted(set(self.retry_delays))),
        ]

    def queue_arguments(self, dead_letter_to: str) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": dead_letter_to,
        }
        if self.quorum:
            arguments["x-queue-type"] = "quorum"
            # Redeliveries without an ack (a handler that kills its process,
            # a connection lost mid-handler) count here; past the limit the
            # broker dead-letters the message instead of looping forever.
            arguments["x-delivery-limit"] = max(10, self.max_attempts * 2)
        return arguments

    async def declare(
        self, channel: AbstractChannel, consumer: str, topics: Iterable[str]
    ) -> AbstractQueue:
        """Declare ``consumer``'s dead-letter, delay and main queues; bind the main one."""
        name, dead = self.queue_name(consumer), self.dead_letter_queue_name(consumer)
        dead_arguments: dict[str, Any] = {"x-queue-type": "quorum"} if self.quorum else {}
        await channel.declare_queue(dead, durable=True, arguments=dead_arguments)
        for delay in sorted(set(self.retry_delays)):
            await channel.declare_queue(
                self.retry_queue_name(consumer, delay),
                durable=True,
                arguments={
                    "x-message-ttl": round(delay * 1000),
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": name,
                },
            )
        queue = await channel.declare_queue(
            name, durable=True, arguments=self.queue_arguments(dead)
        )
        for topic in topics:
            await queue.bind(self.exchange, routing_key=topic)
        return queue
