"""The RabbitMQ adapter of the message bus (aio-pika; install ``acme-core[rabbitmq]``).

Its queues and their names are described in :mod:`._topology`.
Publishing waits for the broker's confirm; ``mandatory`` is set and a returned
(unroutable) message raises :class:`Unroutable`. A delivery is acked only
after its handler returned, i.e. after the handler's transaction committed.

A consumer may take its messages in batches (:meth:`RabbitMQBus.subscribe_batch`,
the :class:`~acme.core.messaging.BatchBus` port): deliveries wait until
``batch_size`` of them are in or ``batch_linger`` has passed since the first,
then the handler gets them in one call and they are acked together. If it
raises, each message is handled on its own, and only the ones that fail again
take the retry and dead-letter path. A batch not yet handled is never acked:
a process that dies with one leaves it to the broker to deliver again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from acme.core.errors import Malformed, Unavailable
from acme.core.logging import bind_request_id, register_secret
from acme.core.messaging import tracing
from acme.core.messaging._message import Message
from acme.core.messaging._port import BatchHandler, DeliveryFailed, Handler

from ._delivery import (
    ATTEMPT_HEADER,
    ERROR_HEADER,
    Pending,
    Subscription,
    after_failure,
    amqp_message,
    drain,
    forward,
    probe,
    publish_queued,
    read_headers,
    settle,
)
from ._topology import QUORUM_SINCE, Topology, aio_pika_module, server_version

if TYPE_CHECKING:
    from aio_pika.abc import (
        AbstractChannel,
        AbstractExchange,
        AbstractIncomingMessage,
        AbstractRobustConnection,
    )

__all__ = ["ATTEMPT_HEADER", "ERROR_HEADER", "RabbitMQBus"]

logger = logging.getLogger(__name__)


def _retrieved(future: asyncio.Future[Any]) -> None:
    """Take a given-up publish's outcome, so asyncio does not log it as never retrieved."""
    if not future.cancelled():
        future.exception()


# Publishes a batch starts per event-loop iteration when the writer's queue is not known.
_PUBLISH_SLICE = 8


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
        batch_size: Most messages a batch handler gets in one call. A queue
            with only batch handlers prefetches twice this many, so the next
            batch fills while one is handled.
        batch_linger: Seconds a batch waits, from its first message, for
            more; added to an event's latency when traffic is light.
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
        batch_size: int = 100,
        batch_linger: float = 0.01,
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
        if batch_size < 1 or batch_linger < 0:
            raise ValueError("batch_size must be at least 1 and batch_linger not negative")
        self.batch_size = batch_size
        self.batch_linger = batch_linger
        self._subscriptions: dict[str, Subscription] = {}
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._ping_channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._consume_channels: list[AbstractChannel] = []
        self._in_flight: set[asyncio.Task[None]] = set()
        self._closing = False
        self._password_registered = False
        self.messaging_system = "rabbitmq"  # its spans' (acme.core.messaging.tracing)

    def __repr__(self) -> str:
        return f"RabbitMQBus(exchange={self.exchange_name!r})"

    def subscribe(self, topic: str, handler: Handler, *, consumer: str) -> None:
        """Bind ``consumer``'s queue to ``topic``; repeat to bind one queue to several."""
        if self._connection is not None:
            raise RuntimeError("subscribe before start()")
        subscription = self._subscriptions.setdefault(consumer, Subscription(consumer))
        subscription.routes.append((topic, handler))

    def subscribe_batch(self, topic: str, handler: BatchHandler, *, consumer: str) -> None:
        """:meth:`subscribe`, delivering lists of up to ``batch_size`` messages."""
        if self._connection is not None:
            raise RuntimeError("subscribe before start()")
        subscription = self._subscriptions.setdefault(consumer, Subscription(consumer))
        subscription.batch_routes.append((topic, handler))

    async def start(self) -> None:
        """Connect, declare the topology and start consuming.

        Raises:
            Unavailable: the broker cannot be reached.
        """
        aio_pika = aio_pika_module()
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
            self._quorum = server_version(self._connection) >= QUORUM_SINCE
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

    def queue_name(self, consumer: str) -> str:
        """The queue of ``consumer`` (``<exchange>.<consumer>``)."""
        return self._topology().queue_name(consumer)

    def dead_letter_queue_name(self, consumer: str) -> str:
        """Where ``consumer``'s messages go after ``max_attempts`` failures."""
        return self._topology().dead_letter_queue_name(consumer)

    def queue_names(self) -> list[str]:
        """Every queue this bus declares for its subscriptions."""
        topology = self._topology()
        return [name for consumer in self._subscriptions for name in topology.queue_names(consumer)]

    def _topology(self) -> Topology:
        return Topology(
            exchange=self.exchange_name,
            retry_delays=self.retry_delays,
            max_attempts=self.max_attempts,
            quorum=bool(self._quorum),
        )

    async def _start_consumer(self, subscription: Subscription) -> None:
        assert self._connection is not None
        channel = await self._connection.channel(publisher_confirms=False)
        # Handlers of single messages run concurrently up to the prefetch; a
        # queue of batch handlers only needs room for the next batch.
        only_batches = bool(subscription.batch_routes) and not subscription.routes
        prefetch = 2 * self.batch_size if only_batches else self.prefetch
        await channel.set_qos(prefetch_count=prefetch)
        self._consume_channels.append(channel)
        queue = await self._topology().declare(channel, subscription.consumer, subscription.topics)
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
                except (OSError, RuntimeError, aio_pika_module().exceptions.AMQPError) as exc:
                    # The channel may already be gone (broker restarting).
                    logger.debug("cancel of %s failed: %r", subscription.consumer, exc)
                subscription.consumer_tag = None
            if subscription.flush_timer is not None:
                subscription.flush_timer.cancel()
                subscription.flush_timer = None
            self._flush(subscription)  # what is waiting is handled (and acked) before the drain
        await drain(self._in_flight, self.shutdown_timeout)
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
        await probe(self._ping_channel, exchange=self.exchange_name)

    async def queue_depth(self, queue: str) -> int:
        """Messages waiting in ``queue`` (a passive declare): the dead-letter queues' metric.

        Raises:
            Unavailable: not connected, no such queue, or the broker does not answer.
        """
        return await probe(self._ping_channel, queue=queue)

    async def publish(self, message: Message) -> None:
        if self._channel is None or self._exchange is None:
            raise DeliveryFailed("the RabbitMQ bus is not started", code="broker_unavailable")
        await publish_queued(
            self._channel,
            self.exchange_name,
            amqp_message(message),
            message.type,
            what=message.type,
            confirm_timeout=self.publish_timeout,
        )

    async def publish_batch(self, messages: Sequence[Message]) -> list[Exception | None]:
        """Publish each message, in order, confirms pipelined on the channel; one outcome
        each.

        aiormq's connection queues a few frames (10) for its writer; a publish that
        finds the queue full waits holding the channel's lock, and every publish behind
        it then takes its turn one event-loop iteration at a time (200 iterations for a
        batch of 200: seconds, on a loop busy with requests). So the batch starts only as
        many publishes per iteration as the queue has room for, and the writer empties it
        in between (some 25 iterations for 200).
        """
        frames = await self._frame_queue()
        publishing: list[asyncio.Future[None]] = []
        try:
            while len(publishing) < len(messages):
                if publishing:
                    await asyncio.sleep(0)  # the started ones queue their frames, the writer sends
                room = _PUBLISH_SLICE
                if frames is not None and frames.maxsize > 0:
                    room = frames.maxsize - frames.qsize() - 1  # one spare: the consumers' acks
                # At least one a turn: with the queue full (the broker not reading, say) the
                # rest wait on the channel's lock, as without slicing, rather than spinning.
                chunk = messages[len(publishing) : len(publishing) + max(room, 1)]
                publishing += [asyncio.ensure_future(self.publish(message)) for message in chunk]
        except BaseException:  # cancelled while starting them: so are the ones started
            for started in publishing:
                started.cancel()
                started.add_done_callback(_retrieved)
            raise
        outcomes = await asyncio.gather(*publishing, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                raise outcome  # cancellation and the like are not a message's outcome
        return [outcome if isinstance(outcome, Exception) else None for outcome in outcomes]

    async def _frame_queue(self) -> asyncio.Queue[Any] | None:
        """The frames the connection has yet to write (``None``: not known now)."""
        if self._channel is None or self._channel.is_closed:
            return None  # the publishes fail on their own, each with its outcome
        try:
            channel = await self._channel.get_underlay_channel()
        except (RuntimeError, aio_pika_module().exceptions.AMQPError):
            return None  # the publishes fail on their own, each with its outcome
        queue = getattr(channel, "write_queue", None)
        return queue if isinstance(queue, asyncio.Queue) else None

    async def _on_message(
        self, subscription: Subscription, incoming: AbstractIncomingMessage
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._in_flight.add(task)
        try:
            await self._handle(subscription, incoming)
        finally:
            self._in_flight.discard(task)

    async def _handle(self, subscription: Subscription, incoming: AbstractIncomingMessage) -> None:
        headers, attempt = read_headers(incoming)
        try:
            message = Message.from_json(incoming.body)
        except Malformed as exc:
            logger.error("consumer %s: unreadable message dead-lettered", subscription.consumer)
            await self._dead_letter(subscription, incoming, attempt, exc.detail)
            return
        if subscription.batch_handler_for(message.type) is not None:
            # The trace context travels in the AMQP headers: the batch's spans read it there.
            context = {k: v for k, v in headers.items() if isinstance(v, str)}
            message = dataclasses.replace(message, headers=context)
            self._enqueue(subscription, Pending(incoming, message, headers, attempt))
            return
        handler = subscription.handler_for(message.type)
        if handler is None:  # a binding left behind by an older deployment
            await self._dead_letter(
                subscription, incoming, attempt, f"no handler for {message.type!r}"
            )
            return
        with bind_request_id(message.correlation_id), subscription.traced(message, headers):
            try:
                await handler(message)
            except asyncio.CancelledError:
                raise  # shutdown: no ack, the broker redelivers
            except Exception as exc:  # noqa: BLE001 - any handler failure is retried
                await self._failed(subscription, incoming, message, attempt, exc)
                return
            await settle(incoming.ack())

    def _enqueue(self, subscription: Subscription, pending: Pending) -> None:
        if self._closing:
            # close() has handed over what was waiting; this one stays unacked and the
            # broker delivers it again (to another consumer, or after the restart).
            return
        subscription.waiting.append(pending)
        if len(subscription.waiting) >= self.batch_size:
            self._flush(subscription)
        elif subscription.flush_timer is None:
            loop = asyncio.get_running_loop()
            subscription.flush_timer = loop.call_later(
                self.batch_linger, self._flush, subscription, True
            )

    def _flush(self, subscription: Subscription, lingered: bool = False) -> None:
        """Hand what is waiting to a task of its own (tracked, so close() waits for it)."""
        if lingered:
            subscription.flush_timer = None
        batch, subscription.waiting = subscription.waiting, []
        if batch:
            task = asyncio.create_task(self._handle_batch(subscription, batch))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _handle_batch(self, subscription: Subscription, batch: list[Pending]) -> None:
        by_handler: dict[BatchHandler, list[Pending]] = {}
        for pending in batch:
            handler = subscription.batch_handler_for(pending.message.type)
            assert handler is not None  # enqueued because it had one
            by_handler.setdefault(handler, []).append(pending)
        for handler, group in by_handler.items():
            messages = [pending.message for pending in group]
            try:
                with tracing.processing_batch(
                    messages, consumer=subscription.consumer, system=self.messaging_system
                ):
                    await handler(messages)
            except asyncio.CancelledError:
                raise  # shutdown: no ack, the broker redelivers
            except Exception as exc:  # any handler failure is retried
                if len(group) == 1:
                    only = group[0]
                    await self._failed(subscription, only.incoming, only.message, only.attempt, exc)
                    continue
                logger.warning(
                    "consumer %s failed on a batch of %d; handling them one by one",
                    subscription.consumer,
                    len(group),
                    exc_info=True,
                )
                for pending in group:
                    try:
                        await self._handle_alone(subscription, handler, pending)
                    except Exception:  # settling one must not leave the rest unsettled
                        logger.exception(
                            "consumer %s: could not settle a delivery; the "
                            "broker delivers it again",
                            subscription.consumer,
                        )
                continue
            for pending in group:
                await settle(pending.incoming.ack())

    async def _handle_alone(
        self, subscription: Subscription, handler: BatchHandler, pending: Pending
    ) -> None:
        message = pending.message
        with bind_request_id(message.correlation_id), subscription.traced(message, pending.headers):
            try:
                await handler([message])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any handler failure is retried
                await self._failed(subscription, pending.incoming, message, pending.attempt, exc)
                return
            await settle(pending.incoming.ack())

    async def _failed(
        self,
        subscription: Subscription,
        incoming: AbstractIncomingMessage,
        message: Message,
        attempt: int,
        error: Exception,
    ) -> None:
        queue, headers = after_failure(
            self._topology(), subscription.consumer, message, attempt, error
        )
        await self._forward(incoming, queue, headers)

    async def _dead_letter(
        self, subscription: Subscription, incoming: AbstractIncomingMessage, attempt: int, why: str
    ) -> None:
        headers = {ATTEMPT_HEADER: attempt, ERROR_HEADER: why}
        await self._forward(incoming, self.dead_letter_queue_name(subscription.consumer), headers)

    async def _forward(
        self, incoming: AbstractIncomingMessage, queue: str, headers: dict[str, Any]
    ) -> None:
        assert self._channel is not None
        await forward(
            self._channel.default_exchange,
            incoming,
            queue,
            headers,
            confirm_timeout=self.publish_timeout,
        )
