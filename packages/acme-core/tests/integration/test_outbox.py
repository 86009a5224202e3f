from __future__ import annotations

from sqlalchemy import select

from acme.core.messaging import Message
from acme.core.messaging.outbox import Outbox
from acme.core.messaging.publisher import OutboxPublisher
from acme.core.messaging.tables import outbox
from acme.core.persistence.database import Database


async def test_outbox_rows_commit_with_the_change(core_database: Database) -> None:
    kept, dropped = Message("item.created", {"n": 1}), Message("item.created", {"n": 2})
    async with core_database.unit_of_work() as uow:
        await Outbox(uow.connection).add(kept)
        await uow.commit()
    async with core_database.unit_of_work() as uow:
        await Outbox(uow.connection).add(dropped)  # never committed
    async with core_database.engine.connect() as connection:
        rows = (await connection.execute(select(outbox))).all()
    assert [(row.id, row.payload, row.published_at) for row in rows] == [(kept.id, {"n": 1}, None)]


async def test_the_publisher_wakes_its_relay_only_after_commit(core_database: Database) -> None:
    wakes: list[str] = []

    async def wake() -> None:
        wakes.append("woken")

    publisher = OutboxPublisher(after_commit=wake)
    async with core_database.unit_of_work() as uow:
        await publisher.publish(uow, Message("item.created", {}))
    assert wakes == []  # rolled back: nothing to relay
    async with core_database.unit_of_work() as uow:
        await publisher.publish(uow, Message("item.created", {}))
        assert wakes == []
        await uow.commit()
    assert wakes == ["woken"]
