"""A relay wakes on another process's commit (LISTEN/NOTIFY), not at its next poll."""

from __future__ import annotations

import asyncio
import time

from acme.core.messaging import Message
from acme.core.messaging.memory import InProcessBus
from acme.core.messaging.outbox import Outbox
from acme.core.messaging.relay import OutboxRelay
from acme.core.migrations import Migrator
from acme.core.persistence.database import Database


async def test_a_commit_elsewhere_wakes_the_relay_at_once(fresh_postgres_url: str) -> None:
    await asyncio.to_thread(Migrator(fresh_postgres_url).upgrade)
    relay_side, writer_side = Database(fresh_postgres_url), Database(fresh_postgres_url)
    bus = InProcessBus()
    arrived = asyncio.Event()

    async def handler(message: Message) -> None:
        arrived.set()

    bus.subscribe("#", handler, consumer="test")
    # An hour between polls: only a notification can wake it in time.
    relay = OutboxRelay(relay_side.unit_of_work, bus, interval=3600, listen_url=fresh_postgres_url)
    assert relay.listener is not None
    relay.start()
    try:
        await asyncio.wait_for(relay.listener.listening.wait(), timeout=10)
        await asyncio.sleep(0.2)  # the poll the listener's start asked for is done
        started = time.monotonic()
        async with writer_side.unit_of_work() as uow:  # another process's write: no local wake
            await Outbox(uow.connection).add(Message("thing.done", {}))
            await uow.commit()
        await asyncio.wait_for(arrived.wait(), timeout=5)
        assert time.monotonic() - started < 5
    finally:
        await relay.stop()
        await relay_side.dispose()
        await writer_side.dispose()


async def test_without_a_listener_the_relay_waits_for_its_poll(fresh_postgres_url: str) -> None:
    await asyncio.to_thread(Migrator(fresh_postgres_url).upgrade)
    database = Database(fresh_postgres_url)
    bus = InProcessBus()
    arrived = asyncio.Event()

    async def handler(message: Message) -> None:
        arrived.set()

    bus.subscribe("#", handler, consumer="test")
    relay = OutboxRelay(database.unit_of_work, bus, interval=3600)
    relay.start()
    try:
        await asyncio.sleep(0.3)
        async with database.unit_of_work() as uow:
            await Outbox(uow.connection).add(Message("thing.done", {}))
            await uow.commit()
        await asyncio.sleep(1.5)
        assert not arrived.is_set()  # the control: the first test's wake came from NOTIFY
    finally:
        await relay.stop()
        await database.dispose()
