"""The event pipeline's metrics on GET /metrics (acme_api.pipeline_metrics).

Each value is caused for real: an item created and counted, an event no
consumer is bound to, a payload the item-count consumer refuses until it
is dead-lettered, on the embedded default and on RabbitMQ.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aio_pika
import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from acme.accounts import item_counts
from acme.core.messaging import Message
from acme.core.messaging.outbox import Outbox
from acme.core.migrations import Migrator
from acme.core.testing import delete_rabbitmq_topology, eventually

from .conftest import client_of, make_settings, running_app

CONSUMER = item_counts.CONSUMER


def scrape(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@asynccontextmanager
async def app_on(**values: Any) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, str]]:
    await asyncio.to_thread(Migrator(values["database_url"]).upgrade)
    async with running_app(make_settings(**values)) as app:
        token = await app.state.container.issue_access_token("alice")
        async with client_of(app, "http://t") as http:
            yield app, http, token


async def metrics_of(app: FastAPI, http: httpx.AsyncClient) -> dict[Any, float]:
    await app.state.container.pipeline.sample()
    return scrape((await http.get("/metrics")).text)


async def queue_unroutable(app: FastAPI) -> None:
    async with app.state.container.database.unit_of_work() as uow:
        await Outbox(uow.connection).add(Message("nobody.listens", {}))
        await uow.commit()


async def test_embedded_outbox_consumers_and_dead_letters(tmp_path: Any) -> None:
    async with app_on(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'api.db'}", relay_interval=0.05
    ) as (app, http, token):
        created = await http.post(
            "/items", json={"title": "t"}, headers={"Authorization": f"Bearer {token}"}
        )
        assert created.status_code == 201, created.text
        ok = frozenset({("consumer", CONSUMER), ("outcome", "ok")})

        async def handled() -> float:
            return (await metrics_of(app, http)).get(
                ("acme_consumer_handling_seconds_count", ok), 0
            )

        await eventually(handled, 2.0)  # alice's account.created, then the item.created
        values = await metrics_of(app, http)
        lag = frozenset({("consumer", CONSUMER)})
        assert values[("acme_consumer_lag_seconds_count", lag)] == 2
        assert values[("acme_consumer_lag_seconds_sum", lag)] > 0
        assert values[("acme_outbox_pending_messages", frozenset())] == 0
        assert values[("acme_outbox_oldest_pending_age_seconds", frozenset())] == 0
        assert values[("acme_dead_letter_messages", lag)] == 0

        await queue_unroutable(app)
        await app.state.container.relay.relay_once()
        values = await metrics_of(app, http)
        unroutable = frozenset({("reason", "unroutable")})
        assert values[("acme_outbox_publish_failures_total", unroutable)] >= 1
        assert values[("acme_outbox_pending_messages", frozenset())] == 1
        assert values[("acme_outbox_oldest_pending_age_seconds", frozenset())] > 0

        # A payload the consumer refuses: retried, then kept as a dead letter.
        await app.state.container.bus.publish_batch([Message("item.created", {})])

        async def dead() -> float:
            return (await metrics_of(app, http))[("acme_dead_letter_messages", lag)]

        await eventually(dead, 1.0)
        failed = frozenset({("consumer", CONSUMER), ("outcome", "error")})
        assert (await metrics_of(app, http))[("acme_consumer_handling_seconds_count", failed)] >= 1


@pytest.mark.integration
async def test_rabbitmq_dead_letter_queue_depth(
    fresh_postgres_url: str, amqp_url: str, run_id: str
) -> None:
    exchange = f"test.{run_id}.metrics.{uuid.uuid4().hex[:6]}"
    async with app_on(
        database_url=fresh_postgres_url, amqp_url=amqp_url, amqp_exchange=exchange
    ) as (app, http, _):
        bus = app.state.container.bus
        lag = frozenset({("consumer", CONSUMER)})
        assert (await metrics_of(app, http))[("acme_dead_letter_messages", lag)] == 0
        # An unreadable body goes straight to the consumer's dead-letter queue.
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            await channel.default_exchange.publish(
                aio_pika.Message(b"not json"), routing_key=bus.queue_name(CONSUMER)
            )

        async def dead() -> float:
            return (await metrics_of(app, http))[("acme_dead_letter_messages", lag)]

        await eventually(dead, 1.0)
        queues = bus.queue_names()
    await delete_rabbitmq_topology(amqp_url, exchange, queues)


async def test_the_sampler_runs_on_its_own(tmp_path: Any) -> None:
    async with app_on(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'api.db'}", relay_in_api=False
    ) as (_app, http, _):
        # alice's account.created waits in the outbox: no relay runs here.
        async def pending() -> float:
            values = scrape((await http.get("/metrics")).text)
            return values[("acme_outbox_pending_messages", frozenset())]

        await eventually(pending, 1.0, within=5)
