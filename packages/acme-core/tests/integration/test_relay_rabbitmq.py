"""The outbox relay publishing to the real RabbitMQ bus."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from acme.core.messaging import Message
from acme.core.messaging.outbox import Outbox
from acme.core.messaging.rabbitmq import RabbitMQBus
from acme.core.messaging.relay import OutboxRelay
from acme.core.messaging.tables import outbox
from acme.core.persistence.database import Database
from acme.core.testing import delete_rabbitmq_topology

# The relay publishes to the real broker from PostgreSQL, as in production.
pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True),
]


@pytest.fixture
def database(core_database: Database) -> Database:
    """core's tables on a PostgreSQL database of the test's own (the relay's production case)."""
    return core_database


@pytest.fixture
async def buses(amqp_url: str, run_id: str) -> AsyncIterator[list[RabbitMQBus]]:
    exchange = f"test.{run_id}.relay.{uuid.uuid4().hex[:6]}"
    made: list[RabbitMQBus] = []
    yield made
    queues: list[str] = []
    for bus in made:
        queues += bus.queue_names()
        await bus.close()
    await delete_rabbitmq_topology(amqp_url, made[0].exchange_name if made else exchange, queues)


async def add(database: Database, messages: list[Message]) -> None:
    async with database.unit_of_work() as uow:
        for message in messages:
            await Outbox(uow.connection).add(message)
        await uow.commit()


async def test_an_unroutable_row_stays_pending_while_the_rest_go_out(
    database: Database, buses: list[RabbitMQBus], amqp_url: str, run_id: str
) -> None:
    bus = RabbitMQBus(amqp_url, exchange=f"test.{run_id}.unroutable.{uuid.uuid4().hex[:6]}")
    buses.append(bus)
    received: list[Message] = []

    async def handler(message: Message) -> None:
        received.append(message)

    bus.subscribe("item.*", handler, consumer="items")
    await bus.start()
    routed, stranded = Message("item.created", {"n": 1}), Message("report.filed", {"n": 2})
    await add(database, [routed, stranded])
    relay = OutboxRelay(database.unit_of_work, bus)
    assert await relay.relay_once() == 1
    for _ in range(200):
        if received:
            break
        await asyncio.sleep(0.02)
    assert received == [routed]
    async with database.engine.connect() as connection:
        row = (await connection.execute(select(outbox).where(outbox.c.id == stranded.id))).one()
    assert row.published_at is None
    assert row.attempts == 1
    assert "report.filed" in row.last_error


async def test_two_relays_at_once_publish_each_row_once(
    database: Database, buses: list[RabbitMQBus], amqp_url: str, run_id: str
) -> None:
    exchange = f"test.{run_id}.two.{uuid.uuid4().hex[:6]}"
    consumer = RabbitMQBus(amqp_url, exchange=exchange, prefetch=64)
    publishers = [RabbitMQBus(amqp_url, exchange=exchange) for _ in range(2)]
    buses.extend([consumer, *publishers])
    seen: Counter[uuid.UUID] = Counter()

    async def count(message: Message) -> None:
        seen[message.id] += 1

    consumer.subscribe("item.#", count, consumer="counter")
    await consumer.start()
    for publisher in publishers:
        await publisher.start()
    messages = [Message("item.created", {"n": n}) for n in range(400)]
    for start in range(0, len(messages), 100):
        await add(database, messages[start : start + 100])

    async def drain(relay: OutboxRelay) -> None:
        while await relay.relay_once():
            pass

    relays = [OutboxRelay(database.unit_of_work, p, batch_size=25) for p in publishers]
    await asyncio.gather(*(drain(relay) for relay in relays))
    for _ in range(500):
        if sum(seen.values()) >= len(messages):
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)  # a duplicate would arrive by now
    assert set(seen) == {m.id for m in messages}
    assert set(seen.values()) == {1}
