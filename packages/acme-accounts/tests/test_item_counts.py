"""The per-account item count, kept from item events (both databases).

The events are built here from their documented payloads: accounts never
imports the items component, and neither do its tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from acme.accounts import item_counts
from acme.core.errors import Invalid
from acme.core.messaging import Message, idempotent, idempotent_batch
from acme.core.messaging.memory import InProcessBus
from acme.core.persistence.database import Database


def created(owner: uuid.UUID) -> Message:
    item = uuid.uuid4()
    return Message(
        "item.created",
        {
            "id": str(item),
            "owner_id": str(owner),
            "title": "t",
            "order": 0,
            "tags": [],
            "created_at": "2026-01-01T00:00:00+00:00",
        },
    )


def deleted(owner: uuid.UUID) -> Message:
    return Message("item.deleted", {"id": str(uuid.uuid4()), "owner_id": str(owner)})


@contextmanager
def first_words(database: Database) -> Iterator[list[str]]:
    """The first word of each statement the database runs inside the block."""
    words: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        words.append(statement.split(maxsplit=1)[0].upper())

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield words
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", record)


async def count(database: Database, account: uuid.UUID) -> int:
    async with database.unit_of_work() as uow:
        return await item_counts.item_count(uow, account)


async def test_counts_follow_events_and_ignore_redeliveries(database: Database) -> None:
    handler = idempotent(item_counts.CONSUMER, database.unit_of_work, item_counts.apply_event)
    alice, bob = uuid.uuid4(), uuid.uuid4()
    await handler(Message("account.created", {"account_id": str(alice), "issuer": "x"}))
    assert await count(database, alice) == 0
    first = created(alice)
    for message in (first, first, created(alice), created(bob), deleted(alice), first):
        await handler(message)
    assert await count(database, alice) == 1
    assert await count(database, bob) == 1
    assert await count(database, uuid.uuid4()) == 0


async def test_out_of_order_events_converge(database: Database) -> None:
    handler = idempotent(item_counts.CONSUMER, database.unit_of_work, item_counts.apply_event)
    carol = uuid.uuid4()
    await handler(deleted(carol))  # delivered before its item.created
    await handler(created(carol))
    await handler(Message("account.created", {"account_id": str(carol), "issuer": "x"}))
    assert await count(database, carol) == 0


@pytest.mark.parametrize(
    "message",
    [
        Message("item.created", {"owner_id": str(uuid.uuid4())}, version=2),
        Message("item.created", {"id": "x"}),
        Message("item.deleted", {"owner_id": "not a uuid"}),
    ],
)
async def test_events_it_does_not_understand_are_refused(
    database: Database, message: Message
) -> None:
    handler = idempotent(item_counts.CONSUMER, database.unit_of_work, item_counts.apply_event)
    with pytest.raises(Invalid):
        await handler(message)


async def test_subscribed_on_a_bus_it_counts_what_is_published(database: Database) -> None:
    bus = InProcessBus()
    item_counts.subscribe(bus, database.unit_of_work)
    await bus.start()
    dave = uuid.uuid4()
    for message in (created(dave), created(dave), deleted(dave)):
        await bus.publish(message)
    await bus.publish(Message("item.updated", {"owner_id": str(dave)}))  # bound, counts nothing
    await bus.drain()
    await bus.close()
    assert await count(database, dave) == 1


async def test_a_batch_is_one_claim_and_one_upsert_of_each_accounts_net_change(
    database: Database,
) -> None:
    handler = idempotent_batch(
        item_counts.CONSUMER, database.unit_of_work, item_counts.apply_events
    )
    alice, bob = uuid.uuid4(), uuid.uuid4()
    first = created(alice)
    with first_words(database) as statements:
        await handler([first, created(alice), created(bob), deleted(alice), created(bob)])
    assert statements == ["INSERT", "INSERT"]  # the claim, then the upsert
    assert (await count(database, alice), await count(database, bob)) == (1, 2)
    await handler([first, deleted(bob)])  # ``first`` again: only the deletion counts
    assert (await count(database, alice), await count(database, bob)) == (1, 1)


async def test_on_postgresql_a_batch_is_one_statement_claim_and_upsert_together(
    database: Database,
) -> None:
    handler = idempotent_batch(
        item_counts.CONSUMER,
        database.unit_of_work,
        item_counts.apply_events,
        one_statement=item_counts.counts_in_one_statement,
    )
    alice, bob = uuid.uuid4(), uuid.uuid4()
    first = created(alice)
    with first_words(database) as statements:
        await handler([first, created(alice), created(bob), deleted(alice), created(bob), first])
    if database.engine.dialect.name == "postgresql":
        assert statements == ["WITH"]  # the claim and the upsert, in autocommit
    else:
        assert statements == ["INSERT", "INSERT"]  # SQLite: claim, then upsert, one transaction
    assert (await count(database, alice), await count(database, bob)) == (1, 2)
    again = [first, deleted(bob)]
    await handler(again)  # ``first`` again: only the deletion counts
    assert (await count(database, alice), await count(database, bob)) == (1, 1)
    await handler(again)  # the whole batch again: nothing changes
    assert (await count(database, alice), await count(database, bob)) == (1, 1)
    with pytest.raises(Invalid):
        await handler([created(alice), Message("item.deleted", {"owner_id": "not a uuid"})])
    assert await count(database, alice) == 1  # a refused batch claimed and changed nothing


async def test_on_a_batch_bus_an_event_it_cannot_read_costs_only_itself(
    database: Database,
) -> None:
    bus = InProcessBus(max_attempts=1)
    item_counts.subscribe(bus, database.unit_of_work)
    await bus.start()
    erin = uuid.uuid4()
    bad = Message("item.deleted", {"owner_id": "not a uuid"})
    updated = Message("item.updated", {"owner_id": str(erin)})
    outcomes = await bus.publish_batch([created(erin), bad, created(erin), updated])
    await bus.drain()
    await bus.close()
    assert outcomes == [None, None, None, None]
    assert await count(database, erin) == 2
    assert bus.dead_letters == [(item_counts.CONSUMER, bad)]
