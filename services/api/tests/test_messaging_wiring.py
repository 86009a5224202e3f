"""The bus and the outbox relay as the API composes them."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import aio_pika
import httpx
import pytest

from acme.core.messaging import Message
from acme.core.messaging.memory import InProcessBus
from acme.core.messaging.outbox import Outbox
from acme.core.migrations import Migrator
from acme.core.persistence.database import Database
from acme.core.testing import delete_rabbitmq_topology
from acme_api import bootstrap
from acme_api.main import create_app

from .conftest import Run, make_settings


async def test_without_a_broker_the_bus_is_in_process(tmp_path: Path) -> None:
    settings = make_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    assert isinstance(bootstrap.build_bus(settings), InProcessBus)


@pytest.mark.integration
async def test_ready_reports_the_broker_but_stays_ready_without_it(
    tmp_path: Path, amqp_url: str, run_id: str
) -> None:
    settings = make_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'a.db'}",
        amqp_url=amqp_url,
        amqp_exchange=f"test.{run_id}.ready",
        relay_in_api=False,
    )
    app = create_app(settings, configure_logs=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            ready = await http.get("/health/ready")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}
            bus = app.state.container.bus
            await bus.close()  # as if the connection were gone
            down = await http.get("/health/ready")
    await delete_rabbitmq_topology(amqp_url, settings.amqp_exchange, bus.queue_names())
    # The outbox keeps events while the broker is away: the replica keeps serving.
    assert down.status_code == 200, down.text
    assert down.json()["checks"] == {"database": "ok", "broker": "unavailable"}


@pytest.mark.integration
async def test_an_unreachable_broker_stops_startup_with_a_clear_error(tmp_path: Path) -> None:
    settings = make_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'a.db'}",
        amqp_url="amqp://guest:guest@127.0.0.1:1/",
    )
    from acme.core.errors import Unavailable

    with pytest.raises(Unavailable, match="RabbitMQ unreachable"):
        await bootstrap.build(settings)


def test_relay_without_a_broker_explains_itself(run: Run, tmp_path: Path) -> None:
    result = run("relay", cwd=tmp_path)
    assert result.returncode == 2
    assert "ACME_AMQP_URL" in result.stderr


@pytest.mark.integration
async def test_relay_once_publishes_what_is_due(
    run: Run, fresh_postgres_url: str, amqp_url: str, run_id: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(Migrator(fresh_postgres_url).upgrade)
    exchange_name = f"test.{run_id}.relay.{uuid.uuid4().hex[:6]}"
    message = Message("item.created", {"n": 1})
    database = Database(fresh_postgres_url)
    try:
        async with database.unit_of_work() as uow:
            await Outbox(uow.connection).add(message)
            await uow.commit()
    finally:
        await database.dispose()
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, "item.#")
        env = {
            "ACME_DATABASE_URL": fresh_postgres_url,
            "ACME_AMQP_URL": amqp_url,
            "ACME_AMQP_EXCHANGE": exchange_name,
        }
        result = await asyncio.to_thread(run, "relay", "--once", cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        assert "published 1 message(s)" in result.stdout
        delivered = await queue.get(timeout=5)
        assert Message.from_json(delivered.body) == message
        again = await asyncio.to_thread(run, "relay", "--once", cwd=tmp_path, env=env)
        assert "published 0 message(s)" in again.stdout
        await exchange.delete()
