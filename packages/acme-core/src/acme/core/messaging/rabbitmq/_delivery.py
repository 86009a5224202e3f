"""The RabbitMQ bus's deliveries: confirmed publishing, retries, dead-lettering, settling."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from acme.core.errors import Unavailable
from acme.core.messaging import tracing
from acme.core.messaging._message import Message
from acme.core.messaging._port import BatchHandler, DeliveryFailed, Handler, Unroutable
from acme.core.messaging.memory import topic_matches

from ._topology import Topology, aio_pika_module, queued_publish

if TYPE_CHECKING:
    from aio_pika.abc import (
        AbstractChannel,
        AbstractExchange,
        AbstractIncomingMessage,
        AbstractQueue,
    )

__all__ = [
    "ATTEMPT_HEADER",
    "ERROR_HEADER",
    "VERSION_HEADER",
    "Pending",
    "Subscription",
    "after_failure",
    "amqp_message",
    "drain",
    "forward",
    "probe",
    "publish_confirmed",
    "publish_queued",
    "read_headers",
    "settle",
]

logger = logging.getLogger("acme.core.messaging.rabbitmq")

ATTEMPT_HEADER = "x-acme-attempt"
ERROR_HEADER = "x-acme-error"
VERSION_HEADER = "x-acme-version"


@dataclass(frozen=True, slots=True)
class Pending:
    """A delivery waiting in a batch: the message, and what settling it needs."""

    incoming: AbstractIncomingMessage
    message: Message
    headers: dict[str, Any]
    attempt: int


@dataclass(slots=True)
class Subscription:
    """One consumer's queue: every topic it is bound with, and the handler of each.

    Topics subscribed with a batch handler collect their deliveries in
    ``waiting`` until the batch is full or its linger has passed.
    """

    consumer: str
    routes: list[tuple[str, Handler]] = field(default_factory=list)
    batch_routes: list[tuple[str, BatchHandler]] = field(default_factory=list)
    queue: AbstractQueue | None = None
    consumer_tag: str | None = None
    waiting: list[Pending] = field(default_factory=list)
    flush_timer: asyncio.TimerHandle | None = None

    def handler_for(self, message_type: str) -> Handler | None:
        for topic, handler in self.routes:
            if topic_matches(topic, message_type):
                return handler
        return None

    def batch_handler_for(self, message_type: str) -> BatchHandler | None:
        for topic, handler in self.batch_routes:
            if topic_matches(topic, message_type):
                return handler
        return None

    @property
    def topics(self) -> list[str]:
        return [topic for topic, _ in self.routes] + [topic for topic, _ in self.batch_routes]

    @contextlib.contextmanager
    def traced(self, message: Message, headers: dict[str, Any]) -> Iterator[None]:
        """The handling's ``process`` span, child of the context in the AMQP headers."""
        with tracing.processing(
            message, consumer=self.consumer, system="rabbitmq", headers=headers
        ):
            yield


def read_headers(incoming: AbstractIncomingMessage) -> tuple[dict[str, Any], int]:
    """A delivery's headers, and its attempt number (1 when missing or unreadable)."""
    headers = dict(incoming.headers or {})
    raw_attempt = headers.get(ATTEMPT_HEADER, 1)
    return headers, raw_attempt if isinstance(raw_attempt, int) and raw_attempt > 0 else 1


def amqp_message(message: Message) -> Any:
    """The persistent AMQP message for ``message`` (its type is the routing key)."""
    aio_pika = aio_pika_module()
    return aio_pika.Message(
        message.to_json(),
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=str(message.id),
        correlation_id=message.correlation_id,
        type=message.type,
        timestamp=message.occurred_at,
        # The trace context (traceparent, tracestate) rides beside the document.
        headers={**message.headers, VERSION_HEADER: message.version},
    )


@contextlib.contextmanager
def _confirmed(what: str) -> Iterator[None]:
    """A publish's failure as the bus's: :class:`Unroutable` or :class:`DeliveryFailed`."""
    aio_pika = aio_pika_module()
    try:
        yield
    except aio_pika.exceptions.PublishError as exc:
        raise Unroutable(f"no queue is bound for {what!r}") from exc
    except (OSError, TimeoutError, RuntimeError, aio_pika.exceptions.AMQPError) as exc:
        raise DeliveryFailed(
            f"RabbitMQ did not confirm {what!r}: {type(exc).__name__}",
            code="broker_unavailable",
        ) from exc


async def publish_confirmed(
    exchange: AbstractExchange, amqp: Any, routing_key: str, *, what: str, confirm_timeout: float
) -> None:
    """Publish with ``mandatory`` and wait for the broker's confirm.

    Raises:
        Unroutable: no queue is bound for the routing key.
        DeliveryFailed: no confirm in time, or the connection failed.
    """
    with _confirmed(what):
        await exchange.publish(
            amqp, routing_key=routing_key, mandatory=True, timeout=confirm_timeout
        )


async def publish_queued(
    channel: AbstractChannel,
    exchange: str,
    amqp: Any,
    routing_key: str,
    *,
    what: str,
    confirm_timeout: float,
) -> None:
    """:func:`publish_confirmed` on ``channel`` to the exchange named ``exchange``, letting
    go of the channel once the frame is queued for the socket (aiormq's ``wait=False``)
    rather than once the socket took it: concurrent publishes on the channel then do not
    take turns an event-loop iteration each. The broker's confirm is still awaited.

    The whole publish, confirm included, is bounded by ``confirm_timeout``; the driver
    gets no timeout of its own (aiormq 6 turns one into a task for each step under the
    channel's lock). A closed channel (the broker gone, a robust connection waiting to
    reconnect) fails at once, as aio-pika's ``Exchange.publish`` does, rather than
    waiting for the connection to come back.

    Raises:
        Unroutable: no queue is bound for the routing key.
        DeliveryFailed: no confirm in time, or the connection failed.
    """
    with _confirmed(what):
        if channel.is_closed:
            raise aio_pika_module().exceptions.ChannelInvalidStateError(f"{channel!r} closed")
        async with asyncio.timeout(confirm_timeout):
            underlay = await channel.get_underlay_channel()
            await underlay.basic_publish(
                amqp.body,
                exchange=exchange,
                routing_key=routing_key,
                properties=amqp.properties,
                mandatory=True,
                **queued_publish(underlay),
            )


async def forward(
    default_exchange: AbstractExchange,
    incoming: AbstractIncomingMessage,
    queue: str,
    headers: dict[str, Any],
    *,
    confirm_timeout: float,
) -> None:
    """Copy a delivery to ``queue`` (confirmed), then ack the original.

    If the copy is not confirmed the original is left unacked, so the
    broker redelivers it: a retry is never lost, at worst repeated.
    """
    aio_pika = aio_pika_module()
    copy = aio_pika.Message(
        incoming.body,
        content_type=incoming.content_type,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=incoming.message_id,
        correlation_id=incoming.correlation_id,
        type=incoming.type,
        timestamp=incoming.timestamp,
        headers={**dict(incoming.headers or {}), **headers},
    )
    try:
        await publish_confirmed(
            default_exchange, copy, queue, what=queue, confirm_timeout=confirm_timeout
        )
    except DeliveryFailed:
        logger.warning("could not move a message to %s; it will be redelivered", queue)
        await settle(incoming.nack(requeue=True))
        return
    await settle(incoming.ack())


async def settle(outcome: Awaitable[None]) -> None:
    """Ack or nack; when the channel is gone the broker redelivers anyway."""
    aio_pika = aio_pika_module()
    try:
        await outcome
    except (OSError, RuntimeError, aio_pika.exceptions.AMQPError) as exc:
        logger.info("could not settle a delivery (%s); the broker will redeliver it", exc)


def after_failure(
    topology: Topology, consumer: str, message: Message, attempt: int, error: Exception
) -> tuple[str, dict[str, Any]]:
    """Where a failed delivery goes, and its headers: the delay queue before its
    next attempt, or, after ``max_attempts``, the dead-letter queue."""
    reason = f"{type(error).__name__}: {error}"[:500]
    tracing.failed(error)
    if attempt >= topology.max_attempts:
        logger.error(
            "consumer %s gave up on %s %s after %d attempts: %s",
            consumer,
            message.type,
            message.id,
            attempt,
            reason,
        )
        return topology.dead_letter_queue_name(consumer), {
            ATTEMPT_HEADER: attempt,
            ERROR_HEADER: reason,
        }
    delays = topology.retry_delays
    delay = delays[min(attempt, len(delays)) - 1]
    logger.warning(
        "consumer %s failed on %s %s (attempt %d/%d), retrying in %.1fs: %s",
        consumer,
        message.type,
        message.id,
        attempt,
        topology.max_attempts,
        delay,
        reason,
    )
    return topology.retry_queue_name(consumer, delay), {
        ATTEMPT_HEADER: attempt + 1,
        ERROR_HEADER: reason,
    }


async def drain(in_flight: set[asyncio.Task[None]], seconds: float) -> None:
    """Wait up to ``seconds`` for running handlers; cancel the rest (the broker redelivers)."""
    if not in_flight:
        return
    _, pending = await asyncio.wait(set(in_flight), timeout=seconds)
    for task in pending:
        task.cancel()
    if pending:
        logger.warning(
            "%d handler(s) still running after %.0fs; their messages will be redelivered",
            len(pending),
            seconds,
        )


async def probe(
    channel: AbstractChannel | None, *, exchange: str | None = None, queue: str | None = None
) -> int:
    """A round trip on ``channel``: a passive declare of ``exchange`` or ``queue``.

    Returns the queue's ready messages (0 for an exchange).

    Raises:
        Unavailable: not connected, no such exchange or queue, or no answer in 2 s.
    """
    if channel is None:
        raise Unavailable("the RabbitMQ bus is not started", code="broker_unavailable")
    aio_pika = aio_pika_module()
    try:
        if queue is None:
            assert exchange is not None
            await asyncio.wait_for(channel.get_exchange(exchange, ensure=True), timeout=2.0)
            return 0
        # On the AMQP channel itself: aio-pika's robust channel answers a
        # passive declare of a queue it knows from its cache, count included.
        amqp = await channel.get_underlay_channel()
        declared = await asyncio.wait_for(amqp.queue_declare(queue, passive=True), timeout=2.0)
        return int(declared.message_count or 0)
    except (OSError, TimeoutError, RuntimeError, aio_pika.exceptions.AMQPError) as exc:
        raise Unavailable(
            f"RabbitMQ unreachable: {type(exc).__name__}", code="broker_unavailable"
        ) from exc
