"""The in-process bus: the embedded default and the unit tests' bus."""

from __future__ import annotations

import asyncio
import logging
from contextvars import ContextVar
from dataclasses import dataclass

from acme.core.logging import bind_request_id

from ._message import Message
from ._port import Handler, Unroutable

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
    tests and for shutdown. Delivery is at most once here: a message handed
    over is lost if the process stops before its handler commits. Use
    RabbitMQ where that matters.

    Args:
        max_attempts: Handler attempts per delivery.
        concurrency: Handlers running at once (each holds a database
            connection while it runs).
        max_pending: Deliveries started and not finished before
            :meth:`publish` waits.
    """

    def __init__(
        self, *, max_attempts: int = 3, concurrency: int = 4, max_pending: int = 256
    ) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self._subscriptions: list[_Subscription] = []
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

    async def start(self) -> None:
        self._started = True

    async def publish(self, message: Message) -> None:
        """Start delivering ``message`` to every matching subscription.

        Waits first while ``max_pending`` deliveries are unfinished (except
        when called from a handler).

        Raises:
            Unroutable: no subscription matches (as RabbitMQ's ``mandatory`` flag would).
        """
        matching = [s for s in self._subscriptions if topic_matches(s.topic, message.type)]
        if not matching:
            raise Unroutable(f"no subscription matches {message.type!r}")
        if not _delivering.get():
            while len(self._tasks) >= self._max_pending:
                self._room.clear()
                await self._room.wait()
        for subscription in matching:
            task = asyncio.create_task(self._deliver(subscription, message))
            self._tasks.add(task)
            task.add_done_callback(self._finished)

    @property
    def pending(self) -> int:
        """Deliveries started and not yet finished."""
        return len(self._tasks)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if len(self._tasks) < self._max_pending:
            self._room.set()

    async def _deliver(self, subscription: _Subscription, message: Message) -> None:
        _delivering.set(True)
        async with self._slots:
            with bind_request_id(message.correlation_id):
                await self._attempts(subscription, message)

    async def _attempts(self, subscription: _Subscription, message: Message) -> None:
        for attempt in range(1, self._max_attempts + 1):
            try:
                await subscription.handler(message)
                return
            except Exception:
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
