"""Nothing lost: item changes keep flowing, exactly once, across a RabbitMQ restart.

The API's composition (database, outbox, relay, RabbitMQ bus) runs against a
private RabbitMQ node that the test restarts in the middle of a few thousand
item changes; a separate consumer records each change's effect through the
idempotent consumer. Afterwards every committed change has had exactly one
effect. The shared broker is never touched.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, Uuid, func, select
from sqlalchemy.dialects.postgresql import insert

from acme.accounts import item_counts
from acme.core.errors import NotFound, PreconditionFailed
from acme.core.messaging import Message, idempotent
from acme.core.messaging.rabbitmq import RabbitMQBus
from acme.core.messaging.tables import outbox, processed_messages
from acme.core.migrations import Migrator
from acme.core.persistence import SqlUnitOfWork
from acme.core.testing.plugin import unavailable
from acme.core.testing.rabbitmq_node import RabbitMQNode, rabbitmq_server_available
from acme.items import interface
from acme.items.serializers import ItemCreate, ItemPatch
from acme.items.tables import items
from acme_api import bootstrap

from .conftest import make_settings

pytestmark = [pytest.mark.integration, pytest.mark.system]

OWNERS = [uuid.uuid4() for _ in range(10)]
WORKERS = 8
OPERATIONS = 3000

effects = Table(
    "test_item_effects",
    MetaData(),
    Column("item_id", Uuid, primary_key=True),
    Column("kind", String(20), primary_key=True),
    Column("count", Integer, nullable=False),
)


async def record_effect(uow: SqlUnitOfWork, message: Message) -> None:
    kind = message.type.removeprefix("item.")
    statement = insert(effects).values(item_id=uuid.UUID(message.payload["id"]), kind=kind, count=1)
    await uow.connection.execute(
        statement.on_conflict_do_update(
            index_elements=[effects.c.item_id, effects.c.kind],
            set_={"count": effects.c.count + 1},
        )
    )


@pytest.fixture
def node(tmp_path: Path) -> Iterator[RabbitMQNode]:
    if not rabbitmq_server_available():
        unavailable("rabbitmq-server is not installed (needed for a private node)")
    started = RabbitMQNode(tmp_path / "rabbitmq")
    started.start()
    try:
        yield started
    finally:
        started.stop()


async def test_item_changes_survive_a_broker_restart_exactly_once(
    node: RabbitMQNode, fresh_postgres_url: str
) -> None:
    await asyncio.to_thread(Migrator(fresh_postgres_url).upgrade)
    settings = make_settings(database_url=fresh_postgres_url, amqp_url=node.url, relay_interval=0.2)
    container = await bootstrap.build(settings)
    container.relay.max_outage_delay = 1.0
    async with container.database.engine.begin() as connection:
        await connection.run_sync(effects.create)
    consumer = RabbitMQBus(node.url, exchange=settings.amqp_exchange, retry_delays=(0.2,))
    consumer.subscribe(
        "item.*",
        idempotent("test.effects", container.database.unit_of_work, record_effect),
        consumer="test.effects",
    )
    await consumer.start()
    container.relay.start()

    expected: Counter[tuple[uuid.UUID, str]] = Counter()
    done = 0
    restarted, third_done = asyncio.Event(), asyncio.Event()
    rng = random.Random(4)
    deps = container.items

    async def worker(owner: uuid.UUID) -> None:
        nonlocal done
        mine: list[uuid.UUID] = []
        while done < OPERATIONS:
            done += 1
            if done >= OPERATIONS // 3:
                third_done.set()
            roll = rng.random()
            try:
                if mine and roll < 0.3:
                    item_id = rng.choice(mine)
                    current = await interface.get_item(deps, owner_id=owner, item_id=item_id)
                    await interface.update_item(
                        deps,
                        owner_id=owner,
                        item_id=item_id,
                        expected_versions={current.version},
                        patch=ItemPatch(order=current.order + 1),
                    )
                    expected[item_id, "updated"] += 1
                elif mine and roll < 0.4:
                    item_id = mine.pop(rng.randrange(len(mine)))
                    await interface.delete_item(deps, owner_id=owner, item_id=item_id)
                    expected[item_id, "deleted"] += 1
                else:
                    item = await interface.create_item(
                        deps, owner_id=owner, data=ItemCreate(title=f"item {done}", order=done)
                    )
                    mine.append(item.id)
                    expected[item.id, "created"] += 1
            except (NotFound, PreconditionFailed):
                pass  # not committed: no effect expected

    async def restart_midway() -> None:
        await third_done.wait()
        await asyncio.to_thread(node.restart)
        restarted.set()

    try:
        await asyncio.gather(
            *(worker(OWNERS[n % len(OWNERS)]) for n in range(WORKERS)), restart_midway()
        )
        assert restarted.is_set()

        async def settled() -> bool:
            async with container.database.engine.connect() as connection:
                pending = await connection.scalar(
                    select(func.count()).where(outbox.c.published_at.is_(None))
                )
                handled = await connection.scalar(select(func.sum(effects.c.count)))
                counted = await connection.scalar(
                    select(func.count())
                    .select_from(processed_messages)
                    .where(processed_messages.c.consumer == item_counts.CONSUMER)
                )
            creates_and_deletes = sum(n for (_, k), n in expected.items() if k != "updated")
            return (
                pending == 0
                and handled == sum(expected.values())
                and counted == creates_and_deletes
            )

        for _ in range(600):
            if await settled():
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # let any duplicate delivery in flight land
        async with container.database.engine.connect() as connection:
            rows = (await connection.execute(select(effects))).all()
            outbox_rows = await connection.scalar(select(func.count()).select_from(outbox))
            claims = await connection.scalar(
                select(func.count())
                .select_from(processed_messages)
                .where(processed_messages.c.consumer == "test.effects")
            )
            live = await connection.scalar(select(func.count()).select_from(items))
        observed = Counter({(row.item_id, row.kind): row.count for row in rows})
        assert observed == expected
        assert outbox_rows == claims == sum(expected.values())
        created = sum(n for (_, kind), n in expected.items() if kind == "created")
        deleted = sum(n for (_, kind), n in expected.items() if kind == "deleted")
        assert live == created - deleted
        # acme-accounts' item counts, kept from the same events, match the table too.
        async with container.database.unit_of_work() as uow:
            for owner in OWNERS:
                owned = await uow.connection.scalar(
                    select(func.count()).select_from(items).where(items.c.owner_id == owner)
                )
                assert await item_counts.item_count(uow, owner) == owned
    finally:
        await consumer.close()
        await container.aclose()
