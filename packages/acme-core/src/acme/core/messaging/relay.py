"""The outbox relay: publishes committed outbox rows and marks them sent."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, delete, select, update
from sqlalchemy.exc import SQLAlchemyError

from acme.core.errors import Unavailable
from acme.core.persistence import SqlUnitOfWork

from . import tracing
from ._message import Message
from ._port import BatchBus, DeliveryFailed, MessageBus, Unroutable
from ._relay_sql import CLAIM, HOLDS_LEASE, MARK_SENT, RELEASE
from .listen import CommitListener
from .tables import outbox

__all__ = ["OutboxRelay"]

logger = logging.getLogger(__name__)


def _row_order(row: Row[Any]) -> tuple[datetime, uuid.UUID]:
    # UPDATE ... RETURNING answers in no particular order: publish oldest first.
    return (row.created_at, row.id)


def _message(row: Row[Any]) -> Message:
    return Message(
        id=row.id,
        type=row.type,
        version=row.version,
        occurred_at=row.occurred_at,
        correlation_id=row.correlation_id,
        payload=row.payload,
        headers=row.trace_context or {},
    )


class OutboxRelay:
    """Moves outbox rows to the bus: publish (confirmed), then mark sent.

    Each batch is claimed with a lease, in one statement that picks due
    rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL and sets their
    ``next_attempt_at`` to ``claim_lease`` from now, so several relays (one
    per API process, plus ``acme-api relay``) share the work and no row is
    published by two at once. No transaction or connection is held while
    the batch is delivered, so handlers that need connections of their own
    never wait for the relay's. Rows are marked sent once the bus has taken
    them: for RabbitMQ, confirmed; for the in-process bus, handled (its
    :meth:`publish_batch` returns when its handlers have). A process that
    dies in between leaves its rows leased: once the lease runs out they
    are delivered again, which idempotent consumers absorb, so nothing is
    lost. SQLite has no row locks: run one relay per SQLite database (the
    embedded default has one process).

    A row the broker cannot route stays pending and is retried with
    exponential backoff (``next_attempt_at``), so it never blocks the rows
    behind it. When the broker is down the relay waits and tries again.

    Args:
        unit_of_work: Makes a unit of work on the database holding the outbox.
        bus: Where messages go.
        batch_size: Rows claimed per transaction.
        interval: Seconds between polls when idle (:meth:`wake` cuts it short).
        max_backoff: Longest wait, in seconds, before retrying a failed row.
        max_outage_delay: Longest wait, in seconds, between attempts while the
            bus or the database is unreachable.
        keep_sent: How long published rows are kept (for inspection) before
            :meth:`purge_sent` deletes them; ``None`` keeps them forever.
        purge_interval: Seconds between two purges while running.
        claim_lease: How long claimed rows are kept from other relays; past
            it, rows a dead process claimed are delivered again.
        listen_url: A PostgreSQL server to hear other processes' commits on
            (:class:`~.listen.CommitListener`); ``None`` polls only.
        linger: After a short batch, the least time from one claim to the
            next: woken sooner, the relay waits out the rest for the commits
            that follow, so under a stream of writes it claims, delivers and
            marks them a batch at a time (three statements a batch) instead
            of nearly one by one. A wake after a quiet spell, or a batch that
            took longer than this, claims at once: it adds to an event's
            latency only what is left of it. 0 claims at once.
    """

    def __init__(
        self,
        unit_of_work: Callable[[], SqlUnitOfWork],
        bus: MessageBus,
        *,
        batch_size: int = 200,
        interval: float = 1.0,
        max_backoff: float = 600.0,
        max_outage_delay: float = 30.0,
        keep_sent: timedelta | None = timedelta(days=7),
        purge_interval: float = 600.0,
        claim_lease: timedelta = timedelta(seconds=30),
        listen_url: str | None = None,
        linger: float = 0.025,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._bus = bus
        self.batch_size = batch_size
        self.interval = interval
        self.max_backoff = max_backoff
        self.max_outage_delay = max_outage_delay
        self.keep_sent = keep_sent
        self.purge_interval = purge_interval
        self.claim_lease = claim_lease
        self.linger = linger
        self.listener = None if listen_url is None else CommitListener(listen_url, self.wake)
        self._next_purge = 0.0
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def wake(self) -> None:
        """Ask for a poll now (after a commit that added outbox rows)."""
        self._wakeup.set()

    async def wake_after_commit(self) -> None:
        """:meth:`wake`, shaped as a unit of work's after-commit callback."""
        self._wakeup.set()

    def _backoff(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.max_backoff, 2.0 ** min(attempts, 20)))

    async def relay_once(self) -> int:
        """Publish one batch of due rows; return how many were published.

        Raises:
            DeliveryFailed: the bus is unreachable (nothing was marked).
        """
        now = datetime.now(UTC)
        lease_until = now + self.claim_lease
        due = {"now": now, "batch": self.batch_size, "lease_until": lease_until}
        async with self._autocommit() as uow:
            rows = sorted((await uow.connection.execute(CLAIM, due)).all(), key=_row_order)
            await uow.commit()
        if not rows:
            return 0
        outcomes = await self._deliver([_message(row) for row in rows])
        return await self._settle(rows, outcomes, now, lease_until)

    async def _deliver(self, messages: list[Message]) -> list[BaseException | None]:
        system = getattr(self._bus, "messaging_system", tracing.IN_PROCESS)
        destination = getattr(self._bus, "exchange_name", None)
        with tracing.publishing(messages, system=system, destination=destination) as batch:
            batch.outcomes = await self._send(batch.messages)
        return list(batch.outcomes)

    async def _send(self, messages: list[Message]) -> list[BaseException | None]:
        if isinstance(self._bus, BatchBus):
            # The bus hands each batch consumer the whole batch at once.
            return list(await self._bus.publish_batch(messages))
        # Publish the batch concurrently: the confirms are pipelined.
        return await asyncio.gather(
            *(self._bus.publish(message) for message in messages), return_exceptions=True
        )

    async def _settle(
        self,
        rows: list[Row[Any]],
        outcomes: list[BaseException | None],
        now: datetime,
        lease_until: datetime,
    ) -> int:
        """Mark what the bus took, back off what it cannot route, release the rest."""
        published: list[uuid.UUID] = []
        untaken: list[uuid.UUID] = []
        errors: list[BaseException] = []
        async with self._autocommit() as uow:
            for row, outcome in zip(rows, outcomes, strict=True):
                if outcome is None:
                    published.append(row.id)
                elif isinstance(outcome, Unroutable):
                    await uow.connection.execute(
                        update(outbox)
                        .where(outbox.c.id == row.id, HOLDS_LEASE)
                        .values(
                            attempts=row.attempts + 1,
                            last_error=outcome.detail[:1000],
                            next_attempt_at=now + self._backoff(row.attempts + 1),
                        ),
                        {"lease_until": lease_until},
                    )
                    logger.warning("outbox %s %s: %s", row.type, row.id, outcome.detail)
                else:
                    untaken.append(row.id)
                    errors.append(outcome)
            if published:
                await uow.connection.execute(MARK_SENT, {"ids": published, "now": now})
            if untaken:
                await uow.connection.execute(RELEASE, {"ids": untaken, "lease_until": lease_until})
            await uow.commit()
        unexpected = [e for e in errors if not isinstance(e, DeliveryFailed)]
        if unexpected:
            raise unexpected[0]
        if errors and not published:
            raise errors[0]
        return len(published)

    def _autocommit(self) -> SqlUnitOfWork:
        # Each statement of the relay is a whole transaction: on PostgreSQL a
        # deferred-mode unit of work runs it in autocommit, one round trip.
        uow = self._unit_of_work()
        uow.deferred = True
        return uow

    async def purge_sent(self, *, batch: int = 1000) -> int:
        """Delete published rows older than ``keep_sent``; return how many went.

        Deletes in batches so no transaction grows large; pending rows are
        never touched.
        """
        if self.keep_sent is None:
            return 0
        cutoff = datetime.now(UTC) - self.keep_sent
        deleted = 0
        while True:
            async with self._unit_of_work() as uow:
                old = (
                    select(outbox.c.id)
                    .where(outbox.c.published_at.is_not(None), outbox.c.published_at < cutoff)
                    .limit(batch)
                    .scalar_subquery()
                )
                result = await uow.connection.execute(delete(outbox).where(outbox.c.id.in_(old)))
                await uow.commit()
            deleted += result.rowcount
            if result.rowcount < batch:
                return deleted

    async def _purge_when_due(self) -> None:
        now = asyncio.get_running_loop().time()
        if now < self._next_purge:
            return
        self._next_purge = now + self.purge_interval
        purged = await self.purge_sent()
        if purged:
            logger.info("outbox relay: deleted %d published row(s) past retention", purged)

    async def run(self) -> None:
        """Relay until cancelled or :meth:`stop` is called."""
        failures = 0
        clock = asyncio.get_running_loop().time
        while not self._stopping:
            try:
                await self._purge_when_due()
                claimed_at = clock()
                published = await self.relay_once()
                failures = 0
            # Unavailable covers DeliveryFailed and a database outage in the unit of work.
            except (Unavailable, SQLAlchemyError, OSError) as exc:
                failures += 1
                delay = min(self.max_outage_delay, 0.25 * 2 ** min(failures, 8))
                log = logger.warning if failures in (1, 10) or failures % 60 == 0 else logger.debug
                log("outbox relay: %s; retrying in %.1fs", _describe(exc), delay)
                await self._sleep(delay)
                continue
            if published < self.batch_size:
                await self._sleep(self.interval)
                rest = claimed_at + self.linger - clock()
                if rest > 0 and not self._stopping:
                    await asyncio.sleep(rest)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), seconds)
        self._wakeup.clear()

    def start(self) -> None:
        """Run :meth:`run` as a background task of the current event loop."""
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self.run(), name="acme-outbox-relay")
            if self.listener is not None:
                self.listener.start()

    async def stop(self) -> None:
        """Finish the batch in progress, then stop."""
        self._stopping = True
        self._wakeup.set()
        if self.listener is not None:
            await self.listener.stop()
        task, self._task = self._task, None
        if task is not None:
            try:
                await asyncio.wait_for(task, timeout=15)
            except TimeoutError:
                logger.warning("outbox relay did not stop in time; cancelled")


def _describe(exc: BaseException) -> str:
    """One line for the log: the cause an operator can act on (the driver's message and
    SQLSTATE of a database outage), never a secret."""
    if isinstance(exc, Unavailable):
        return f"{exc.detail}: {exc.diagnostic}" if exc.diagnostic else exc.detail
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
