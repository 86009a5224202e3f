"""The idempotent consumer on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select, update

from acme.core.messaging import Message, idempotent, idempotent_batch
from acme.core.messaging.idempotency import ProcessedMessages
from acme.core.persistence import SqlUnitOfWork
from acme.core.persistence.database import Database

counters = Table(
    "test_counters",
    MetaData(),
    Column("name", String(50), primary_key=True),
    Column("value", Integer, nullable=False),
)


@pytest.fixture
async def database(core_database: Database) -> Database:
    async with core_database.engine.begin() as connection:
        await connection.run_sync(counters.create)
        await connection.execute(counters.insert().values(name="c", value=0))
    return core_database


async def value(database: Database) -> int:
    async with database.engine.connect() as connection:
        return int((await connection.execute(select(counters.c.value))).scalar_one())


async def increment(uow: SqlUnitOfWork, message: Message) -> None:
    await uow.connection.execute(
        update(counters).where(counters.c.name == "c").values(value=counters.c.value + 1)
    )
    if message.payload.get("fail"):
        raise RuntimeError("effect failed")


async def test_a_redelivered_message_has_one_effect(database: Database) -> None:
    handler = idempotent("counter", database.unit_of_work, increment)
    message = Message("thing.happened", {})
    await handler(message)
    await handler(message)
    await handler(Message("thing.happened", {}))
    assert await value(database) == 2


async def test_consumers_are_independent(database: Database) -> None:
    message = Message("thing.happened", {})
    await idempotent("one", database.unit_of_work, increment)(message)
    await idempotent("two", database.unit_of_work, increment)(message)
    assert await value(database) == 2


async def test_a_failed_effect_leaves_no_claim(database: Database) -> None:
    handler = idempotent("counter", database.unit_of_work, increment)
    message = Message("thing.happened", {"fail": True})
    with pytest.raises(RuntimeError):
        await handler(message)
    assert await value(database) == 0
    async with database.unit_of_work() as uow:
        assert await ProcessedMessages(uow.connection).claim("counter", message.id)


async def test_concurrent_redeliveries_have_one_effect(database: Database) -> None:
    handler = idempotent("counter", database.unit_of_work, increment)
    message = Message("thing.happened", {})
    results = await asyncio.gather(*(handler(message) for _ in range(5)), return_exceptions=True)
    # SQLite serialises writers and may report "database is locked" to a loser; the
    # effect still happens exactly once. PostgreSQL makes the losers wait, then skip.
    assert all(r is None or "locked" in str(r) for r in results)
    assert await value(database) == 1


async def test_a_batch_is_claimed_once_and_applied_to_what_was_new(database: Database) -> None:
    seen: list[list[int]] = []

    async def add(uow: SqlUnitOfWork, messages: Sequence[Message]) -> None:
        seen.append([int(m.payload["n"]) for m in messages])
        await uow.connection.execute(
            update(counters)
            .where(counters.c.name == "c")
            .values(value=counters.c.value + len(messages))
        )

    handler = idempotent_batch("batch-test", database.unit_of_work, add)
    first, second, third = (Message("x.y", {"n": n}) for n in (1, 2, 3))
    await handler([first, second, first])  # a duplicate inside the batch counts once
    await handler([second, third])  # a redelivery: only the new one
    await handler([first, third])  # nothing new: no effect, no call
    assert seen == [[1, 2], [3]]
    assert await value(database) == 3


async def test_a_failing_batch_effect_leaves_its_messages_unclaimed(database: Database) -> None:
    async def fail(uow: SqlUnitOfWork, messages: Sequence[Message]) -> None:
        await uow.connection.execute(update(counters).values(value=counters.c.value + 100))
        raise RuntimeError("effect failed")

    message = Message("x.y", {})
    with pytest.raises(RuntimeError):
        await idempotent_batch("batch-test", database.unit_of_work, fail)([message])
    async with database.unit_of_work() as uow:
        assert await ProcessedMessages(uow.connection).claim_many("batch-test", [message.id]) == {
            message.id
        }
    assert await value(database) == 0
