"""The outbox relay on both databases, with a recording bus (a fake of our own port)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from acme.core.messaging import DeliveryFailed, Message, Unroutable
from acme.core.messaging.memory import InProcessBus
from acme.core.messaging.outbox import Outbox
from acme.core.messaging.relay import OutboxRelay
from acme.core.messaging.tables import outbox
from acme.core.persistence.database import Database


class RecordingBus:
    """Accepts every message (after an optional pause), except types it is told to refuse."""

    def __init__(self, *, pause: float = 0.0, unroutable: frozenset[str] = frozenset()) -> None:
        self.published: list[Message] = []
        self.pause = pause
        self.unroutable = unroutable
        self.down = False

    async def publish(self, message: Message) -> None:
        if self.down:
            raise DeliveryFailed("broker down")
        if message.type in self.unroutable:
            raise Unroutable(f"no queue is bound for {message.type!r}")
        if self.pause:
            await asyncio.sleep(self.pause)
        self.published.append(message)

    def subscribe(self, *args: object, **kwargs: object) -> None:
        raise NotImplementedError

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None: ...


async def add(database: Database, *messages: Message) -> None:
    async with database.unit_of_work() as uow:
        for message in messages:
            await Outbox(uow.connection).add(message)
        await uow.commit()


async def pending(database: Database) -> int:
    async with database.engine.connect() as connection:
        query = select(func.count()).where(outbox.c.published_at.is_(None))
        return int((await connection.execute(query)).scalar_one())


async def test_the_relay_publishes_committed_rows_and_marks_them_sent(
    core_database: Database,
) -> None:
    bus = InProcessBus()
    seen: list[Message] = []

    async def handler(message: Message) -> None:
        seen.append(message)

    bus.subscribe("#", handler, consumer="test")
    messages = [Message("item.created", {"n": n}, correlation_id=f"r{n}") for n in range(5)]
    await add(core_database, *messages)
    relay = OutboxRelay(core_database.unit_of_work, bus, batch_size=3)
    assert await relay.relay_once() == 3
    assert await relay.relay_once() == 2
    assert await relay.relay_once() == 0
    await bus.drain()
    assert sorted(m.payload["n"] for m in seen) == list(range(5))
    assert {m.id for m in seen} == {m.id for m in messages}
    assert seen[0].occurred_at.tzinfo is not None
    assert await pending(core_database) == 0


async def test_the_relay_hands_a_batch_consumer_its_whole_batch_at_once(
    core_database: Database,
) -> None:
    bus = InProcessBus()
    batches: list[list[int]] = []

    async def handler(messages: Sequence[Message]) -> None:
        batches.append([int(m.payload["n"]) for m in messages])

    bus.subscribe_batch("item.*", handler, consumer="test")
    await add(core_database, *(Message("item.created", {"n": n}) for n in range(5)))
    await add(core_database, Message("nobody.listens", {}))
    relay = OutboxRelay(core_database.unit_of_work, bus, batch_size=4)
    assert await relay.relay_once() == 4
    assert await relay.relay_once() == 1  # the unroutable one stays pending
    await bus.drain()
    assert batches == [[0, 1, 2, 3], [4]]
    assert await pending(core_database) == 1


async def test_rows_a_dead_relay_was_delivering_come_again_after_its_lease(
    core_database: Database,
) -> None:
    gate = asyncio.Event()
    stuck_bus = InProcessBus()

    async def stuck(messages: Sequence[Message]) -> None:
        await gate.wait()  # the process dies before the handler commits

    stuck_bus.subscribe_batch("item.*", stuck, consumer="test")
    message = Message("item.created", {})
    await add(core_database, message)
    lease = timedelta(seconds=1)
    dying = asyncio.create_task(
        OutboxRelay(core_database.unit_of_work, stuck_bus, claim_lease=lease).relay_once()
    )
    await asyncio.sleep(0.3)
    dying.cancel()  # killed: nothing marked sent
    bus = InProcessBus()
    seen: list[Message] = []

    async def handler(messages: Sequence[Message]) -> None:
        seen.extend(messages)

    bus.subscribe_batch("item.*", handler, consumer="test")
    relay = OutboxRelay(core_database.unit_of_work, bus, claim_lease=lease)
    try:
        assert await pending(core_database) == 1
        assert await relay.relay_once() == 0  # still leased to the dead one
        await asyncio.sleep(1.2)
        assert await relay.relay_once() == 1
        assert [m.id for m in seen] == [message.id]
        assert await pending(core_database) == 0
    finally:
        gate.set()
        await stuck_bus.drain()


async def test_an_unroutable_row_stays_pending_and_waits(core_database: Database) -> None:
    bus = RecordingBus(unroutable=frozenset({"account.created"}))
    stuck, fine = Message("account.created", {}), Message("item.created", {})
    await add(core_database, stuck, fine)
    relay = OutboxRelay(core_database.unit_of_work, bus)
    assert await relay.relay_once() == 1
    assert [m.id for m in bus.published] == [fine.id]
    async with core_database.engine.connect() as connection:
        row = (await connection.execute(select(outbox).where(outbox.c.id == stuck.id))).one()
    assert row.published_at is None
    assert row.attempts == 1
    assert "no queue is bound" in row.last_error
    next_attempt = row.next_attempt_at.replace(tzinfo=row.next_attempt_at.tzinfo or UTC)
    assert next_attempt > datetime.now(UTC)
    assert await relay.relay_once() == 0  # not due yet: nothing is retried in a hot loop


async def test_a_broker_outage_leaves_rows_untouched(core_database: Database) -> None:
    bus = RecordingBus()
    bus.down = True
    await add(core_database, Message("item.created", {}))
    relay = OutboxRelay(core_database.unit_of_work, bus)
    with pytest.raises(DeliveryFailed):
        await relay.relay_once()
    async with core_database.engine.connect() as connection:
        row = (await connection.execute(select(outbox))).one()
    assert (row.attempts, row.published_at, row.next_attempt_at) == (0, None, None)
    bus.down = False
    assert await relay.relay_once() == 1


async def test_the_background_relay_runs_until_stopped(core_database: Database) -> None:
    bus = RecordingBus()
    relay = OutboxRelay(core_database.unit_of_work, bus, interval=10)
    relay.start()
    await add(core_database, Message("item.created", {}))
    relay.wake()
    for _ in range(200):
        if bus.published:
            break
        await asyncio.sleep(0.02)
    await relay.stop()
    assert len(bus.published) == 1


@pytest.mark.parametrize("linger", [0.0, 0.5])
async def test_woken_by_a_stream_of_commits_the_relay_lingers_and_takes_them_as_a_batch(
    core_database: Database, linger: float
) -> None:
    bus = InProcessBus()
    batches: list[int] = []

    async def handler(messages: Sequence[Message]) -> None:
        batches.append(len(messages))

    bus.subscribe_batch("item.*", handler, consumer="test")
    relay = OutboxRelay(core_database.unit_of_work, bus, interval=10, linger=linger)
    relay.start()
    await asyncio.sleep(0.1)  # its first poll finds nothing: it waits to be woken
    try:
        for n in range(5):  # five commits, each waking the relay, 20 ms apart
            await add(core_database, Message("item.created", {"n": n}))
            relay.wake()
            await asyncio.sleep(0.02)
        for _ in range(200):
            if sum(batches) == 5:
                break
            await asyncio.sleep(0.02)
    finally:
        await relay.stop()
    assert sum(batches) == 5
    if linger:
        assert batches == [5]  # woken by the first, it waited out the other four
    else:
        assert len(batches) > 1  # no linger: it claims as soon as it is woken


async def test_a_wake_after_a_quiet_spell_is_not_held_back_by_the_linger(
    core_database: Database,
) -> None:
    bus = InProcessBus()
    handled = asyncio.Event()

    async def handler(messages: Sequence[Message]) -> None:
        handled.set()

    bus.subscribe_batch("item.*", handler, consumer="test")
    relay = OutboxRelay(core_database.unit_of_work, bus, interval=30, linger=1.0)
    relay.start()
    await asyncio.sleep(1.5)  # its first poll found nothing, longer ago than the linger
    try:
        await add(core_database, Message("item.created", {"n": 1}))
        relay.wake()
        woken = time.monotonic()
        await asyncio.wait_for(handled.wait(), timeout=5)
        # The linger counts from the last claim: it has run out, nothing is held back
        # (lingering from the wake would take 1 s).
        assert time.monotonic() - woken < 0.5
    finally:
        await relay.stop()


async def test_two_relays_at_once_publish_each_row_once(postgres_url: str) -> None:
    # Row locks (FOR UPDATE SKIP LOCKED) are PostgreSQL's; SQLite runs one relay.
    from acme.core.migrations import Migrator

    await asyncio.to_thread(Migrator(postgres_url).upgrade)
    database = Database(postgres_url)
    try:
        run = uuid.uuid4().hex
        messages = [Message(f"relay.{run}", {"n": n}) for n in range(600)]
        for start in range(0, len(messages), 100):
            await add(database, *messages[start : start + 100])
        bus = RecordingBus(pause=0.001)

        async def drain(relay: OutboxRelay) -> None:
            while await relay.relay_once():
                pass

        relays = [OutboxRelay(database.unit_of_work, bus, batch_size=50) for _ in range(3)]
        await asyncio.gather(*(drain(relay) for relay in relays))
        counts = Counter(m.id for m in bus.published if m.type == f"relay.{run}")
        assert set(counts) == {m.id for m in messages}
        assert set(counts.values()) == {1}
    finally:
        await database.dispose()


async def test_published_rows_past_retention_are_purged(core_database: Database) -> None:
    bus = RecordingBus(unroutable=frozenset({"stuck.event"}))
    old, recent, stuck = (
        Message("item.created", {"n": 1}),
        Message("item.created", {"n": 2}),
        Message("stuck.event", {}),
    )
    await add(core_database, old, recent, stuck)
    relay = OutboxRelay(core_database.unit_of_work, bus, keep_sent=timedelta(hours=1))
    assert await relay.relay_once() == 2
    async with core_database.unit_of_work() as uow:
        await uow.connection.execute(
            update(outbox)
            .where(outbox.c.id == old.id)
            .values(published_at=datetime.now(UTC) - timedelta(hours=2))
        )
        await uow.commit()
    assert await relay.purge_sent(batch=1) == 1
    async with core_database.engine.connect() as connection:
        left = set((await connection.execute(select(outbox.c.id))).scalars())
    assert left == {recent.id, stuck.id}  # the recent one, and the pending one, whatever its age
    assert await OutboxRelay(core_database.unit_of_work, bus, keep_sent=None).purge_sent() == 0


async def test_a_database_outage_is_logged_with_its_cause(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A port nothing listens on: the driver's own error must reach the log line.
    database = Database("postgresql+asyncpg://postgres@127.0.0.1:1/acme")
    relay = OutboxRelay(database.unit_of_work, RecordingBus(), interval=10)
    try:
        with caplog.at_level("WARNING", logger="acme.core.messaging.relay"):
            relay.start()
            for _ in range(200):
                if any("outbox relay:" in r.getMessage() for r in caplog.records):
                    break
                await asyncio.sleep(0.02)
            await relay.stop()
    finally:
        await database.dispose()
    (line,) = [r.getMessage() for r in caplog.records if "outbox relay:" in r.getMessage()]
    assert "database unreachable: " in line
    assert "Connect" in line  # ConnectionRefusedError / OSError: the driver's cause


class GatedBus(RecordingBus):
    """Holds each publish until ``release`` is set; then fails it if ``fail``."""

    def __init__(self, *, fail: bool) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.fail = fail

    async def publish(self, message: Message) -> None:
        self.entered.set()
        await self.release.wait()
        if self.fail:
            raise DeliveryFailed("broker went away")
        self.published.append(message)


async def test_a_relay_past_its_lease_does_not_undo_anothers(core_database: Database) -> None:
    await add(core_database, Message("item.created", {}))
    # A's lease is over at once, so B may claim the row while A is still delivering.
    slow = GatedBus(fail=True)
    a = OutboxRelay(core_database.unit_of_work, slow, claim_lease=timedelta(0))
    other = GatedBus(fail=False)
    b = OutboxRelay(core_database.unit_of_work, other, claim_lease=timedelta(minutes=5))
    a_run = asyncio.create_task(a.relay_once())
    await slow.entered.wait()
    b_run = asyncio.create_task(b.relay_once())
    await other.entered.wait()  # B holds the row now, with its own lease
    slow.release.set()
    with pytest.raises(DeliveryFailed):
        await a_run  # A failed: it releases only rows it still holds, none here
    async with core_database.engine.connect() as connection:
        row = (await connection.execute(select(outbox))).one()
    assert row.next_attempt_at is not None  # B's lease stands: no third relay may take it
    other.release.set()
    assert await b_run == 1
    assert await pending(core_database) == 0
