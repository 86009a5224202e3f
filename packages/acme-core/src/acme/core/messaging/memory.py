"""The in-process bus: the embedded default and the unit tests' bus."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from acme.core.logging import bind_request_id

from . import tracing
from ._message import Message
from ._port import BatchHandler, Handler, Unroutable

__all__ = ["InProcessBus", "topic_matches"]

logger = logging.getLogger(__name__)

# Set inside a delivery: a handler that publishes must not wait for room that
# only its own completion would make.
_delivering: ContextVar[bool] = ContextVar("acme_in_process_delivery", default=False)


def topic_matches(topic: str, message_type: str) -> bool:
    """AMQP topic semantics: ``*`` is exactly one dotted word, ``#`` zero or more."""
    return _match(tuple(topic.split(".")), tuple(message_type.split(".")))


def _match(pattern: tuple[str, ...], words: tuple[str, ...]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[i:]) for i in range(len(words) + 1))
    if not words:
        return False
    return head in ("*", words[0]) and _match(rest, words[1:])


@dataclass(frozen=True, slots=True)
class _Subscription:
    topic: str
    handler: Handler
    consumer: str


@dataclass(frozen=True, slots=True)
class _BatchSubscription:
    topic: str
    handler: BatchHandler
    consumer: str

    async def one(self, message: Message) -> None:
        await self.handler([message])


class InProcessBus:
    """Delivers each published message to every matching handler, in this process.

    Handlers run as tasks so a publisher never waits for consumers, up to
    ``max_pending`` deliveries started and not yet finished: past that,
    :meth:`publish` waits for room. The outbox relay is the publisher, so a
    burst of writes stays in the outbox table (durable) instead of piling up
    here as tasks (memory, and lost if the process stops). A handler that
    publishes never waits. A failing handler is retried ``max_attempts``
    times, then logged and dropped (there is no broker: it is kept in
    :attr:`dead_letters`). :meth:`drain` waits for deliveries in flight, for
    tests and for shutdown. Through :meth:`publish` alone delivery is at
    most once: a message handed over is lost if the process stops before
    its handler commits (the relay uses :meth:`publish_batch`, below).

    It is a :class:`~acme.core.messaging.BatchBus`: :meth:`publish_batch`
    hands a batch subscription every matching message of the batch in one
    call; when that call fails, each message is retried on its own, so one
    bad message costs only itself. It returns once the handlers are done,
    which is what lets the relay deliver again what a dead process was
    handling: with the relay, delivery is at least once here too.

    Args:
        max_attempts: Handler attempts per delivery.
        concurrency: Handlers running at once (each holds a database
            connection while it runs).
        max_pending: Deliveries started and not finished before
            :meth:`publish` waits.
    """

    messaging_system = tracing.IN_PROCESS
    """``messaging.system`` of its spans (:mod:`~acme.core.messaging.tracing`)."""

    def __init__(
        self, *, max_attempts: int = 3, concurrency: int = 4, max_pending: int = 256
    ) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self._subscriptions: list[_Subscription] = []
        self._batch_subscriptions: list[_BatchSubscription] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._max_pending = max_pending
        self._room = asyncio.Event()
        self._room.set()
        self._max_attempts = max_attempts
        # Handlers open database transactions: at most this many run at once,
        # so a burst of events never takes every pooled connection from requests.
        self._slots = asyncio.Semaphore(concurrency)
        self._started = False
        self.dead_letters: list[tuple[str, Message]] = []

    def subscribe(self, topic: str, handler: Handler, *, consumer: str) -> None:
        self._subscriptions.append(_Subscription(topic, handler, consumer))

    def subscribe_batch(self, topic: str, handler: BatchHandler, *, consumer: str) -> None:
        self._batch_subscriptions.append(_BatchSubscription(topic, handler, consumer))

    async def start(self) -> None:
        self._started = True

    def _routable(self, message: Message) -> bool:
        return any(topic_matches(s.topic, message.type) for s in self._subscriptions) or any(
            topic_matches(s.topic, message.type) for s in self._batch_subscriptions
        )

    async def _wait_for_room(self) -> None:
        if not _delivering.get():
            while len(self._tasks) >= self._max_pending:
                self._room.clear()
                await self._room.wait()

    def _start(self, delivery: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(delivery)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    async def publish_batch(self, messages: Sequence[Message]) -> list[Exception | None]:
        """Deliver a batch: per subscription, one call with its matching messages.

        Returns once every handler is done with the batch (handled, or
        dead-lettered after its attempts), so the relay marks rows sent only
        then and a process that dies first has them delivered again. Called
        from a handler, it returns at once instead (the handler holds a slot
        the deliveries may need). One outcome per message: ``None``, or
        :class:`Unroutable` when no subscription matches it (the others are
        still delivered).
        """
        outcomes: list[Exception | None] = [
            None if self._routable(m) else Unroutable(f"no subscription matches {m.type!r}")
            for m in messages
        ]
        routed = [m for m, outcome in zip(messages, outcomes, strict=True) if outcome is None]
        if not routed:
            return outcomes
        await self._wait_for_room()
        started = []
        for batch_subscription in self._batch_subscriptions:
            matching = [m for m in routed if topic_matches(batch_subscription.topic, m.type)]
            if matching:
                started.append(self._start(self._deliver_batch(batch_subscription, matching)))
        for subscription in self._subscriptions:
            for message in routed:
                if topic_matches(subscription.topic, message.type):
                    started.append(self._start(self._deliver(subscription, message)))
        if not _delivering.get():
            await asyncio.gather(*started, return_exceptions=True)
        return outcomes

    async def publish(self, message: Message) -> None:
        """Start delivering ``message`` to every matching subscription.

        Waits first while ``max_pending`` deliveries are unfinished (except
        when called from a handler).

        Raises:
            Unroutable: no subscription matches (as RabbitMQ's ``mandatory`` flag would).
        """
        if not self._routable(message):
            raise Unroutable(f"no subscription matches {message.type!r}")
        await self._wait_for_room()
        for subscription in self._subscriptions:
            if topic_matches(subscription.topic, message.type):
                self._start(self._deliver(subscription, message))
        for batch_subscription in self._batch_subscriptions:
            if topic_matches(batch_subscription.topic, message.type):
                self._start(self._deliver(batch_subscription, message))

    @property
    def pending(self) -> int:
        """Deliveries started and not yet finished."""
        return len(self._tasks)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if len(self._tasks) < self._max_pending:
            self._room.set()

    async def _deliver(
        self, subscription: _Subscription | _BatchSubscription, message: Message
    ) -> None:
        _delivering.set(True)
        async with self._slots:
            with bind_request_id(message.correlation_id):
                await self._traced_attempts(subscription, message)

    async def _deliver_batch(
        self, subscription: _BatchSubscription, messages: list[Message]
    ) -> None:
        _delivering.set(True)
        async with self._slots:
            try:
                with tracing.processing_batch(
                    messages, consumer=subscription.consumer, system=self.messaging_system
                ):
                    await subscription.handler(messages)
                return
            except Exception:
                logger.warning(
                    "consumer %s failed on a batch of %d; handling them one by one",
                    subscription.consumer,
                    len(messages),
                    exc_info=True,
                )
            for message in messages:
                with bind_request_id(message.correlation_id):
                    await self._traced_attempts(subscription, message)

    async def _traced_attempts(
        self, subscription: _Subscription | _BatchSubscription, message: Message
    ) -> None:
        with tracing.processing(
            message, consumer=subscription.consumer, system=self.messaging_system
        ):
            await self._attempts(subscription, message)

    async def _attempts(
        self, subscription: _Subscription | _BatchSubscription, message: Message
    ) -> None:
        handler = (
            subscription.handler if isinstance(subscription, _Subscription) else subscription.one
        )
        for attempt in range(1, self._max_attempts + 1):
            try:
                await handler(message)
                return
            except Exception as exc:
                logger.exception(
                    "consumer %s failed on %s %s (attempt %d/%d)",
                    subscription.consumer,
                    message.type,
                    message.id,
                    attempt,
                    self._max_attempts,
                )
                if attempt < self._max_attempts:
                    await asyncio.sleep(0.05 * attempt)
                else:
                    tracing.failed(exc)
        self.dead_letters.append((subscription.consumer, message))

    async def drain(self) -> None:
        """Wait until every delivery started so far has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        await self.drain()
        self._started = False

    async def ping(self) -> None:
        """Always answers: the bus is this process."""
