"""The RabbitMQ adapter of the message bus (aio-pika; install ``acme-core[rabbitmq]``).

Topology, per bus (``exchange``) and per subscription (``consumer``); queue
names start with the exchange's, so two deployments can share a virtual host:

- ``<exchange>``: a durable topic exchange; a message's type is its routing key;
- ``<exchange>.<consumer>``: a durable queue (a quorum queue where the server
  supports them) bound with each of the consumer's topics, dead-lettering to
  its ``.dead`` queue after too many redeliveries (a message that crashes its
  consumer every time);
- ``<exchange>.<consumer>.retry.<ms>``: one durable delay queue per backoff
  step; a failed message waits there for its TTL, then returns to its queue only;
- ``<exchange>.<consumer>.dead``: the dead-letter queue, where a message lands
  after ``max_attempts`` failed attempts (headers say why), for an operator.

Publishing waits for the broker's confirm; ``mandatory`` is set and a returned
(unroutable) message raises :class:`Unroutable`. A delivery is acked only
after its handler returned, i.e. after the handler's transaction committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from acme.core.errors import Malformed, Unavailable
from acme.core.logging import bind_request_id, register_secret

from ._message import Message
from ._port import DeliveryFailed, Handler, Unroutable
from .memory import topic_matches

if TYPE_CHECKING:
    from aio_pika.abc import (
        AbstractChannel,
        AbstractExchange,
        AbstractIncomingMessage,
        AbstractQueue,
        AbstractRobustConnection,
    )

__all__ = ["RabbitMQBus"]

logger = logging.getLogger(__name__)

ATTEMPT_HEADER = "x-acme-attempt"
ERROR_HEADER = "x-acme-error"
VERSION_HEADER = "x-acme-version"
_QUORUM_SINCE = (3, 8)


def _aio_pika() -> Any:
    try:
        import aio_pika
    except ModuleNotFoundError:  # pragma: no cover - depends on the install
        raise ImportError(
            "the RabbitMQ bus needs aio-pika: pip install 'acme-core[rabbitmq]'"
        ) from None
    return aio_pika


def _server_version(connection: AbstractRobustConnection) -> tuple[int, ...]:
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


@dataclass(slots=True)
class _Subscription:
    """One consumer's queue: every topic it is bound with, and the handler of each."""

    consumer: str
    routes: list[tuple[str, Handler]] = field(default_factory=list)
    queue: AbstractQueue | None = None
    consumer_tag: str | None = None

    def handler_for(self, message_type: str) -> Handler | None:
        for topic, handler in self.routes:
            if topic_matches(topic, message_type):
                return handler
        return None


class RabbitMQBus:
    """:class:`~acme.core.messaging.MessageBus` on RabbitMQ.

    Args:
        url: ``amqp://user:password@host:port/vhost``.
        exchange: The topic exchange every message goes through.
        prefetch: Unacked deliveries per subscription at once (handlers run
            concurrently up to this many; keep it below the database pool size).
        max_attempts: Attempts per message before it is dead-lettered.
        retry_delays: Seconds to wait before attempt 2, 3, ...; the last
            delay repeats.
        publish_timeout: Seconds to wait for a publisher confirm.
        reconnect_interval: Seconds between reconnection attempts.
        shutdown_timeout: Seconds :meth:`close` waits for in-flight handlers.
        quorum: Use quorum queues; ``None`` decides from the server version.
    """

    def __init__(
        self,
        url: str,
        *,
        exchange: str = "acme.events",
        prefetch: int = 8,
        max_attempts: int = 5,
        retry_delays: Sequence[float] = (1.0, 5.0, 30.0, 120.0),
        publish_timeout: float = 10.0,
        reconnect_interval: float = 1.0,
        shutdown_timeout: float = 30.0,
        quorum: bool | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not retry_delays or min(retry_delays) <= 0:
            raise ValueError("retry_delays must be positive")
        self._url = url
        self.exchange_name = exchange
        self.prefetch = prefetch
        self.max_attempts = max_attempts
        self.retry_delays = tuple(retry_delays)
        self.publish_timeout = publish_timeout
        self.reconnect_interval = reconnect_interval
        self.shutdown_timeout = shutdown_timeout
        self._quorum = quorum
        self._subscriptions: dict[str, _Subscription] = {}
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._ping_channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._consume_channels: list[AbstractChannel] = []
        self._in_flight: set[asyncio.Task[None]] = set()
        self._closing = False
        self._password_registered = False

    def __repr__(self) -> str:
        return f"RabbitMQBus(exchange={self.exchange_name!r})"

    def subscribe(self, topic: str, handler: Handler, *, consumer: str) -> None:
        """Bind ``consumer``'s queue to ``topic``; repeat to bind one queue to several."""
        if self._connection is not None:
            raise RuntimeError("subscribe before start()")
        subscription = self._subscriptions.setdefault(consumer, _Subscription(consumer))
        subscription.routes.append((topic, handler))

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        """Connect, declare the topology and start consuming.

        Raises:
            Unavailable: the broker cannot be reached.
        """
        aio_pika = _aio_pika()
        url = aio_pika.connection.make_url(self._url)
        if url.password and not self._password_registered:
            register_secret(url.password)
            self._password_registered = True
        try:
            self._connection = await aio_pika.connect_robust(
                self._url,
                reconnect_interval=self.reconnect_interval,
                client_properties={"connection_name": "acme"},
                timeout=self.publish_timeout,
            )
        except (OSError, TimeoutError, aio_pika.exceptions.AMQPError) as exc:
            raise Unavailable(
                f"RabbitMQ unreachable: {type(exc).__name__}", code="broker_unavailable"
            ) from exc
        if self._quorum is None:
            self._quorum = _server_version(self._connection) >= _QUORUM_SINCE
        self._channel = await self._connection.channel(
            publisher_confirms=True, on_return_raises=True
        )
        # Readiness probes get a channel of their own, never queued behind publishes.
        self._ping_channel = await self._connection.channel(publisher_confirms=False)
        self._exchange = await self._channel.declare_exchange(
            self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        for subscription in self._subscriptions.values():
            await self._start_consumer(subscription)
        logger.info(
            "RabbitMQ bus started: exchange %s, %d subscription(s), %s queues",
            self.exchange_name,
            len(self._subscriptions),
            "quorum" if self._quorum else "classic",
        )

    def _queue_arguments(self, dead_letter_to: str) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": dead_letter_to,
        }
        if self._quorum:
            arguments["x-queue-type"] = "quorum"
            # Redeliveries without an ack (a handler that kills its process,
            # a connection lost mid-handler) count here; past the limit the
            # broker dead-letters the message instead of looping forever.
            arguments["x-delivery-limit"] = max(10, self.max_attempts * 2)
        return arguments

    def queue_name(self, consumer: str) -> str:
        """The queue of ``consumer`` (``<exchange>.<consumer>``)."""
        return f"{self.exchange_name}.{consumer}"

    def dead_letter_queue_name(self, consumer: str) -> str:
        """Where ``consumer``'s messages go after ``max_attempts`` failures."""
        return f"{self.queue_name(consumer)}.dead"

    def queue_names(self) -> list[str]:
        """Every queue this bus declares for its subscriptions."""
        names = []
        for consumer in self._subscriptions:
            names.append(self.queue_name(consumer))
            names.append(self.dead_letter_queue_name(consumer))
            names.extend(
                self._retry_queue_name(consumer, d) for d in sorted(set(self.retry_delays))
            )
        return names

    def _retry_queue_name(self, consumer: str, delay: float) -> str:
        return f"{self.queue_name(consumer)}.retry.{round(delay * 1000)}ms"

    async def _start_consumer(self, subscription: _Subscription) -> None:
        assert self._connection is not None
        channel = await self._connection.channel(publisher_confirms=False)
        await channel.set_qos(prefetch_count=self.prefetch)
        self._consume_channels.append(channel)
        name = self.queue_name(subscription.consumer)
        dead = self.dead_letter_queue_name(subscription.consumer)
        dead_arguments = {"x-queue-type": "quorum"} if self._quorum else {}
        await channel.declare_queue(dead, durable=True, arguments=dead_arguments)
        for delay in sorted(set(self.retry_delays)):
            await channel.declare_queue(
                self._retry_queue_name(subscription.consumer, delay),
                durable=True,
                arguments={
                    "x-message-ttl": round(delay * 1000),
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": name,
                },
            )
        queue = await channel.declare_queue(
            name, durable=True, arguments=self._queue_arguments(dead)
        )
        for topic, _ in subscription.routes:
            await queue.bind(self.exchange_name, routing_key=topic)
        subscription.queue = queue

        async def on_message(incoming: AbstractIncomingMessage) -> None:
            await self._on_message(subscription, incoming)

        subscription.consumer_tag = await queue.consume(on_message)

    async def close(self) -> None:
        """Stop consuming, wait for in-flight handlers (bounded), then disconnect."""
        self._closing = True
        for subscription in self._subscriptions.values():
            if subscription.queue is not None and subscription.consumer_tag is not None:
                try:
                    await subscription.queue.cancel(subscription.consumer_tag)
                except (OSError, RuntimeError, _aio_pika().exceptions.AMQPError) as exc:
                    # The channel may already be gone (broker restarting).
                    logger.debug("cancel of %s failed: %r", subscription.consumer, exc)
                subscription.consumer_tag = None
        if self._in_flight:
            _, pending = await asyncio.wait(set(self._in_flight), timeout=self.shutdown_timeout)
            for task in pending:
                task.cancel()
            if pending:
                logger.warning(
                    "%d handler(s) still running after %.0fs; their messages will be redelivered",
                    len(pending),
                    self.shutdown_timeout,
                )
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()
        self._channel = self._ping_channel = self._exchange = None
        self._consume_channels.clear()
        self._closing = False

    async def ping(self) -> None:
        """A round trip to the broker (a passive declare of the exchange).

        Raises:
            Unavailable: not connected, or the broker does not answer.
        """
        if self._ping_channel is None or self._connection is None:
            raise Unavailable("the RabbitMQ bus is not started", code="broker_unavailable")
        aio_pika = _aio_pika()
        try:
            await asyncio.wait_for(
                self._ping_channel.get_exchange(self.exchange_name, ensure=True), timeout=2.0
            )
        except (OSError, TimeoutError, RuntimeError, aio_pika.exceptions.AMQPError) as exc:
            raise Unavailable(
                f"RabbitMQ unreachable: {type(exc).__name__}", code="broker_unavailable"
            ) from exc

    # -- publishing --------------------------------------------------------------

    def _amqp_message(
        self, message: Message, *, headers: dict[str, Any] | None = None, body: bytes | None = None
    ) -> Any:
        aio_pika = _aio_pika()
        return aio_pika.Message(
            body if body is not None else message.to_json(),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=str(message.id),
            correlation_id=message.correlation_id,
            type=message.type,
            timestamp=message.occurred_at,
            headers={VERSION_HEADER: message.version, **(headers or {})},
        )

    async def publish(self, message: Message) -> None:
        if self._exchange is None:
            raise DeliveryFailed("the RabbitMQ bus is not started", code="broker_unavailable")
        await self._confirmed(
            self._exchange, self._amqp_message(message), message.type, what=message.type
        )

    async def _confirmed(
        self, exchange: AbstractExchange, amqp_message: Any, routing_key: str, *, what: str
    ) -> None:
        aio_pika = _aio_pika()
        try:
            await exchange.publish(
                amqp_message,
                routing_key=routing_key,
                mandatory=True,
                timeout=self.publish_timeout,
            )
        except aio_pika.exceptions.PublishError as exc:
            raise Unroutable(f"no queue is bound for {what!r}") from exc
        except (OSError, TimeoutError, RuntimeError, aio_pika.exceptions.AMQPError) as exc:
            raise DeliveryFailed(
                f"RabbitMQ did not confirm {what!r}: {type(exc).__name__}",
                code="broker_unavailable",
            ) from exc

    # -- consuming ---------------------------------------------------------------

    async def _on_message(
        self, subscription: _Subscription, incoming: AbstractIncomingMessage
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._in_flight.add(task)
        try:
            await self._handle(subscription, incoming)
        finally:
            self._in_flight.discard(task)

    async def _handle(self, subscription: _Subscription, incoming: AbstractIncomingMessage) -> None:
        headers = dict(incoming.headers or {})
        raw_attempt = headers.get(ATTEMPT_HEADER, 1)
        attempt = raw_attempt if isinstance(raw_attempt, int) and raw_attempt > 0 else 1
        try:
            message = Message.from_json(incoming.body)
        except Malformed as exc:
            logger.error("consumer %s: unreadable message dead-lettered", subscription.consumer)
            await self._dead_letter(subscription, incoming, attempt, exc.detail)
            return
        handler = subscription.handler_for(message.type)
        if handler is None:  # a binding left behind by an older deployment
            await self._dead_letter(
                subscription, incoming, attempt, f"no handler for {message.type!r}"
            )
            return
        with bind_request_id(message.correlation_id):
            try:
                await handler(message)
            except asyncio.CancelledError:
                raise  # shutdown: no ack, the broker redelivers
            except Exception as exc:  # noqa: BLE001 - any handler failure is retried
                await self._failed(subscription, incoming, message, attempt, exc)
                return
            await _settle(incoming.ack())

    async def _failed(
        self,
        subscription: _Subscription,
        incoming: AbstractIncomingMessage,
        message: Message,
        attempt: int,
        error: Exception,
    ) -> None:
        reason = f"{type(error).__name__}: {error}"[:500]
        if attempt >= self.max_attempts:
            logger.error(
                "consumer %s gave up on %s %s after %d attempts: %s",
                subscription.consumer,
                message.type,
                message.id,
                attempt,
                reason,
            )
            await self._dead_letter(subscription, incoming, attempt, reason)
            return
        delay = self.retry_delays[min(attempt, len(self.retry_delays)) - 1]
        logger.warning(
            "consumer %s failed on %s %s (attempt %d/%d), retrying in %.1fs: %s",
            subscription.consumer,
            message.type,
            message.id,
            attempt,
            self.max_attempts,
            delay,
            reason,
        )
        await self._forward(
            incoming,
            self._retry_queue_name(subscription.consumer, delay),
            {ATTEMPT_HEADER: attempt + 1, ERROR_HEADER: reason},
        )

    async def _dead_letter(
        self,
        subscription: _Subscription,
        incoming: AbstractIncomingMessage,
        attempt: int,
        reason: str,
    ) -> None:
        await self._forward(
            incoming,
            self.dead_letter_queue_name(subscription.consumer),
            {ATTEMPT_HEADER: attempt, ERROR_HEADER: reason},
        )

    async def _forward(
        self, incoming: AbstractIncomingMessage, queue: str, headers: dict[str, Any]
    ) -> None:
        """Copy a delivery to ``queue`` (confirmed), then ack the original.

        If the copy is not confirmed the original is left unacked, so the
        broker redelivers it: a retry is never lost, at worst repeated.
        """
        assert self._channel is not None
        aio_pika = _aio_pika()
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
            await self._confirmed(self._channel.default_exchange, copy, queue, what=queue)
        except DeliveryFailed:
            logger.warning("could not move a message to %s; it will be redelivered", queue)
            await _settle(incoming.nack(requeue=True))
            return
        await _settle(incoming.ack())


async def _settle(outcome: Awaitable[None]) -> None:
    """Ack or nack; when the channel is gone the broker redelivers anyway."""
    aio_pika = _aio_pika()
    try:
        await outcome
    except (OSError, RuntimeError, aio_pika.exceptions.AMQPError) as exc:
        logger.info("could not settle a delivery (%s); the broker will redeliver it", exc)
