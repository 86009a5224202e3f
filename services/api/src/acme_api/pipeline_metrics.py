"""The event pipeline's health as Prometheus metrics, beside the HTTP ones.

- ``acme_outbox_pending_messages`` and ``acme_outbox_oldest_pending_age_seconds``:
  rows not yet published, sampled from the database every ``interval``
  seconds (one indexed query: the pending rows' partial index);
- ``acme_outbox_publish_failures_total{reason}``: events the bus did not take
  (``unroutable``, ``delivery_failed``), counted as the relay publishes;
- ``acme_consumer_lag_seconds{consumer}``: from an event's occurrence to the
  start of its handling; ``acme_consumer_handling_seconds{consumer,outcome}``:
  one handler call (one event, or one batch);
- ``acme_dead_letter_messages{consumer}``: what a consumer gave up on (the
  dead-letter queue's depth on RabbitMQ, the bus's list in process).

The relay and the consumers see the bus through :class:`MeteredBus`, which
counts and times on its way through; the app's other users keep the bus
itself. Under gunicorn the sampled gauges show the most recent worker's
value (every worker samples the same database and broker), except the
in-process dead letters, which each worker keeps and the scrape sums.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter as Tally
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import func, select

from acme.core.messaging import (
    BatchBus,
    BatchHandler,
    DeliveryFailed,
    Handler,
    Message,
    MessageBus,
    Unroutable,
)
from acme.core.messaging.tables import outbox

if TYPE_CHECKING:
    from acme.core.persistence.database import Database

__all__ = ["MeteredBatchBus", "MeteredBus", "PipelineMetrics", "metered"]

logger = logging.getLogger(__name__)

# Seconds: an in-process consumer answers in milliseconds, a broker's after its retry delays.
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
HANDLING_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_PENDING = select(func.count(), func.min(outbox.c.created_at)).where(
    outbox.c.published_at.is_(None)
)


class PipelineMetrics:
    """The pipeline's metrics in ``registry``, and the sampler of the gauges.

    Args:
        registry: The app's registry (:class:`acme_api.metrics.HttpMetrics`).
        shared_dead_letters: Dead letters live in a broker every worker sees
            (RabbitMQ), rather than in each process.
        interval: Seconds between two samples of the outbox and the dead letters.
    """

    def __init__(
        self, registry: CollectorRegistry, *, shared_dead_letters: bool, interval: float = 15.0
    ) -> None:
        self.interval = interval
        self.outbox_pending = Gauge(
            "acme_outbox_pending_messages",
            "Outbox rows not yet published (sampled).",
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        self.outbox_oldest_age = Gauge(
            "acme_outbox_oldest_pending_age_seconds",
            "Age of the oldest outbox row not yet published; 0 when none (sampled).",
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        self.publish_failures = Counter(
            "acme_outbox_publish_failures",
            "Events the bus did not take when the relay published them, by reason.",
            ["reason"],
            registry=registry,
        )
        self.consumer_lag = Histogram(
            "acme_consumer_lag_seconds",
            "Time from an event's occurrence to the start of its handling, by consumer.",
            ["consumer"],
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.handling = Histogram(
            "acme_consumer_handling_seconds",
            "Time of one handler call (an event or a batch), by consumer and outcome.",
            ["consumer", "outcome"],
            buckets=HANDLING_BUCKETS,
            registry=registry,
        )
        self.dead_letters = Gauge(
            "acme_dead_letter_messages",
            "Messages a consumer gave up on, waiting for an operator (sampled).",
            ["consumer"],
            registry=registry,
            multiprocess_mode="livemostrecent" if shared_dead_letters else "livesum",
        )
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._source: tuple[Database, MeteredBus] | None = None

    async def sample(self) -> None:
        """Read the outbox's pending rows and each consumer's dead letters now.

        Raises:
            RuntimeError: before :meth:`start`.
        """
        if self._source is None:
            raise RuntimeError("start() the pipeline metrics first")
        database, metered_bus = self._source
        bus, consumers = metered_bus.inner, metered_bus.consumers
        async with database.reader() as uow:
            pending, oldest = (await uow.connection.execute(_PENDING)).one()
        self.outbox_pending.set(pending)
        age = 0.0 if oldest is None else (datetime.now(UTC) - oldest).total_seconds()
        self.outbox_oldest_age.set(max(age, 0.0))
        queue_depth = getattr(bus, "queue_depth", None)
        if queue_depth is not None:
            for consumer in consumers:
                name = bus.dead_letter_queue_name(consumer)  # type: ignore[attr-defined]
                self.dead_letters.labels(consumer).set(await queue_depth(name))
            return
        kept = Tally(consumer for consumer, _ in getattr(bus, "dead_letters", ()))
        for consumer in consumers:
            self.dead_letters.labels(consumer).set(kept[consumer])

    def start(self, database: Database, bus: MeteredBus) -> None:
        """Sample every ``interval`` seconds in a task of the running loop, until :meth:`stop`."""
        self._source = (database, bus)
        stopping = self._stopping = asyncio.Event()

        async def run() -> None:
            # The first sample waits out startup, when the relay and the first
            # requests open their connections (SQLite serializes them).
            delay = min(self.interval, 1.0)
            while not await _stopped(stopping, delay):
                try:
                    await self.sample()
                except Exception as exc:  # noqa: BLE001 - an outage must not stop the sampler
                    logger.debug("pipeline metrics: sampling failed: %r", exc)
                delay = self.interval

        self._task = asyncio.create_task(run(), name="acme-pipeline-metrics")

    async def stop(self) -> None:
        """Stop sampling once the sample in progress is done (a query cut short by a
        cancellation would leave its connection to the garbage collector)."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        try:
            await asyncio.wait_for(task, timeout=5)
        except TimeoutError:
            logger.warning("pipeline metrics: the sample in progress did not end in 5 s")

    def timed(self, consumer: str, handler: Handler) -> Handler:
        """``handler``, its lag and handling time observed for ``consumer``."""

        async def handle(message: Message) -> None:
            await self._observe(consumer, [message], handler(message))

        return handle

    def timed_batch(self, consumer: str, handler: BatchHandler) -> BatchHandler:
        """:meth:`timed` for a batch handler: a lag per event, one handling time per call."""

        async def handle(messages: Sequence[Message]) -> None:
            await self._observe(consumer, messages, handler(messages))

        return handle

    async def _observe(self, consumer: str, messages: Sequence[Message], call: Any) -> None:
        now = datetime.now(UTC)
        lag = self.consumer_lag.labels(consumer)
        for message in messages:
            lag.observe(max((now - message.occurred_at).total_seconds(), 0.0))
        started = time.perf_counter()
        outcome = "error"
        try:
            await call
            outcome = "ok"
        finally:
            self.handling.labels(consumer, outcome).observe(time.perf_counter() - started)

    def failed(self, error: BaseException) -> None:
        """Count an event the bus did not take."""
        reason = "unroutable" if isinstance(error, Unroutable) else "delivery_failed"
        self.publish_failures.labels(reason).inc()


async def _stopped(stopping: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds`` or until ``stopping`` is set; whether it is."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)
    return stopping.is_set()


class MeteredBus:
    """A :class:`MessageBus` that counts failed publishes and times handlers on its way to
    ``inner``; every other attribute is ``inner``'s."""

    def __init__(self, inner: MessageBus, metrics: PipelineMetrics) -> None:
        self.inner = inner
        self.metrics = metrics
        self.consumers: list[str] = []

    def __getattr__(self, name: str) -> Any:
        # The relay reads the bus's messaging_system and exchange_name for its spans.
        return getattr(self.inner, name)

    async def publish(self, message: Message) -> None:
        try:
            await self.inner.publish(message)
        except DeliveryFailed as exc:
            self.metrics.failed(exc)
            raise

    def subscribe(self, topic: str, handler: Handler, *, consumer: str) -> None:
        self._consumer(consumer)
        self.inner.subscribe(topic, self.metrics.timed(consumer, handler), consumer=consumer)

    def _consumer(self, consumer: str) -> None:
        if consumer not in self.consumers:
            self.consumers.append(consumer)

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def ping(self) -> None:
        await self.inner.ping()


class MeteredBatchBus(MeteredBus):
    """:class:`MeteredBus` for a bus that moves batches (a :class:`BatchBus` too)."""

    inner: Any

    def subscribe_batch(self, topic: str, handler: BatchHandler, *, consumer: str) -> None:
        self._consumer(consumer)
        timed = self.metrics.timed_batch(consumer, handler)
        self.inner.subscribe_batch(topic, timed, consumer=consumer)

    async def publish_batch(self, messages: Sequence[Message]) -> list[Exception | None]:
        try:
            outcomes: list[Exception | None] = await self.inner.publish_batch(messages)
        except DeliveryFailed as exc:
            for _ in messages:
                self.metrics.failed(exc)
            raise
        for outcome in outcomes:
            if outcome is not None:
                self.metrics.failed(outcome)
        return outcomes


def metered(bus: MessageBus, metrics: PipelineMetrics) -> MeteredBus:
    """``bus`` seen through the metrics, a :class:`BatchBus` if ``bus`` is one."""
    if isinstance(bus, BatchBus):
        return MeteredBatchBus(bus, metrics)
    return MeteredBus(bus, metrics)
