"""Tracing from a request to its events' consumers (acme_api.tracing, acme.core.messaging.tracing).

The span tree is read from the SDK's in-memory exporter: a ``POST /items``
server span, the outbox write's ``create`` span, the relay's ``publish``
span and the item-count consumer's ``process`` span, one trace, on the
embedded default (SQLite, in-process bus) and on PostgreSQL and RabbitMQ.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import select

from acme.accounts import item_counts
from acme.core.config import ConfigError
from acme.core.messaging import tracing as outbox_tracing
from acme.core.messaging.tables import outbox
from acme.core.migrations import Migrator
from acme.core.testing import delete_rabbitmq_topology, eventually
from acme_api.main import create_app
from acme_api.tracing import Tracing, tracing_from_env

from .conftest import client_of, make_settings

CONSUMER = item_counts.CONSUMER


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    yield InMemorySpanExporter()
    assert not outbox_tracing.enabled(), "the app's shutdown turns the outbox hop's tracing off"


@pytest.fixture(autouse=True)
def no_otel_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_SDK_DISABLED", "OTEL_SERVICE_NAME"):
        monkeypatch.delenv(name, raising=False)


@asynccontextmanager
async def traced_app(
    exporter: InMemorySpanExporter, **values: Any
) -> AsyncIterator[tuple[FastAPI, dict[str, str]]]:
    await asyncio.to_thread(Migrator(values["database_url"]).upgrade)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(make_settings(**values), configure_logs=False, tracing=Tracing(provider))
    async with app.router.lifespan_context(app):
        token = await app.state.container.issue_access_token("alice")
        yield app, {"Authorization": f"Bearer {token}"}


def by_id(spans: tuple[ReadableSpan, ...]) -> dict[int, ReadableSpan]:
    return {span.context.span_id: span for span in spans if span.context is not None}


def parent_of(span: ReadableSpan, spans: dict[int, ReadableSpan]) -> ReadableSpan:
    assert span.parent is not None, f"{span.name} has no parent"
    return spans[span.parent.span_id]


def ancestors(span: ReadableSpan, spans: dict[int, ReadableSpan]) -> list[str]:
    names = []
    while span.parent is not None and span.parent.span_id in spans:
        span = spans[span.parent.span_id]
        names.append(span.name)
    return names


def consumer_spans(spans: tuple[ReadableSpan, ...]) -> list[ReadableSpan]:
    return [
        s
        for s in spans
        if s.kind is SpanKind.CONSUMER
        and (s.attributes or {}).get("messaging.consumer.group.name") == CONSUMER
        and (s.attributes or {}).get("messaging.destination.name") == "item.created"
    ]


def check_one_create(
    exporter: InMemorySpanExporter, *, system: str, destination: str
) -> ReadableSpan:
    """The tree of one ``POST /items``; returns the consumer's span."""
    spans = exporter.get_finished_spans()
    index = by_id(spans)
    (server,) = [s for s in spans if s.kind is SpanKind.SERVER and s.name == "POST /items"]
    (process,) = consumer_spans(spans)
    publish = parent_of(process, index)
    create = parent_of(publish, index)
    assert (publish.name, publish.kind) == ("publish item.created", SpanKind.PRODUCER)
    assert (create.name, create.kind) == ("create item.created", SpanKind.PRODUCER)
    assert process.name == "process item.created"
    # request -> outbox write -> publish -> process, all one trace
    assert ancestors(process, index)[-1] == "POST /items", ancestors(process, index)
    assert server.context is not None
    assert process.context is not None
    assert process.context.trace_id == server.context.trace_id
    assert publish.attributes is not None
    assert process.attributes is not None
    assert publish.attributes["messaging.system"] == system
    assert publish.attributes["messaging.operation"] == "publish"
    assert publish.attributes["messaging.destination.name"] == destination
    assert process.attributes["messaging.system"] == system
    assert process.attributes["messaging.operation"] == "process"
    assert process.attributes["messaging.destination.name"] == "item.created"
    assert process.attributes["messaging.message.id"] == publish.attributes["messaging.message.id"]
    # The maintained instrumentation traces the request's SQL inside its span.
    sql = [s for s in spans if (s.attributes or {}).get("db.system") or "INSERT" in s.name]
    assert any(server.name in ancestors(s, index) for s in sql), [s.name for s in spans]
    return process


async def test_embedded_one_trace_from_request_to_consumer(
    exporter: InMemorySpanExporter, tmp_path: Path
) -> None:
    async with traced_app(
        exporter, database_url=f"sqlite+aiosqlite:///{tmp_path / 'api.db'}", relay_interval=0.1
    ) as (app, alice):
        async with client_of(app, "http://t") as http:
            created = await http.post("/items", json={"title": "traced"}, headers=alice)
            assert created.status_code == 201, created.text
        await eventually(lambda: len(consumer_spans(exporter.get_finished_spans())), 1)
        database = app.state.container.database
        async with database.reader() as uow:
            stored = (
                await uow.connection.execute(
                    select(outbox.c.trace_context).where(outbox.c.type == "item.created")
                )
            ).scalar_one()
    process = check_one_create(exporter, system="acme_in_process", destination="item.created")
    assert process.context is not None
    assert stored["traceparent"].split("-")[1] == f"{process.context.trace_id:032x}"


async def test_a_batch_handled_in_one_call_has_a_process_span_per_event(
    exporter: InMemorySpanExporter, tmp_path: Path
) -> None:
    async with traced_app(
        exporter, database_url=f"sqlite+aiosqlite:///{tmp_path / 'api.db'}", relay_in_api=False
    ) as (app, alice):
        async with client_of(app, "http://t") as http:
            for n in range(3):
                created = await http.post("/items", json={"title": f"n{n}"}, headers=alice)
                assert created.status_code == 201, created.text
        # One claim of the rows (alice's account.created too), handed to the
        # batch consumer at once.
        assert await app.state.container.relay.relay_once() == 4
    spans = exporter.get_finished_spans()
    index = by_id(spans)
    servers = [s for s in spans if s.kind is SpanKind.SERVER and s.name == "POST /items"]
    processes = consumer_spans(spans)
    assert len(servers) == len(processes) == 3
    # Each event's span is in its own request's trace, under its own publish span.
    assert {p.context.trace_id for p in processes if p.context} == {
        s.context.trace_id for s in servers if s.context
    }
    assert len({parent_of(p, index).context.span_id for p in processes}) == 3  # type: ignore[union-attr]
    # The item.* subscription's call: one transaction for the three events,
    # its span linked to each event's own.
    batches = [s for s in spans if s.name == f"process batch {CONSUMER}"]
    (batch,) = [b for b in batches if (b.attributes or {})["messaging.batch.message_count"] == 3]
    assert {link.context.span_id for link in batch.links} == {
        p.context.span_id for p in processes if p.context
    }


@pytest.mark.integration
async def test_postgresql_and_rabbitmq_one_trace_from_request_to_consumer(
    exporter: InMemorySpanExporter, fresh_postgres_url: str, amqp_url: str, run_id: str
) -> None:
    exchange = f"test.{run_id}.trace.{uuid.uuid4().hex[:6]}"
    async with traced_app(
        exporter,
        database_url=fresh_postgres_url,
        amqp_url=amqp_url,
        amqp_exchange=exchange,
        relay_interval=0.1,
    ) as (app, alice):
        async with client_of(app, "http://t") as http:
            created = await http.post("/items", json={"title": "traced"}, headers=alice)
            assert created.status_code == 201, created.text
        await eventually(lambda: len(consumer_spans(exporter.get_finished_spans())), 1)
        queues = app.state.container.bus.queue_names()
    await delete_rabbitmq_topology(amqp_url, exchange, queues)
    check_one_create(exporter, system="rabbitmq", destination=exchange)


def test_off_by_default() -> None:
    assert tracing_from_env() is None


@pytest.mark.parametrize("value", ["", "none", " none "])
def test_none_is_off(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", value)
    assert tracing_from_env() is None


def test_the_sdk_switch_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert tracing_from_env() is None


def test_an_unknown_exporter_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    with pytest.raises(ConfigError, match="OTEL_TRACES_EXPORTER"):
        tracing_from_env()


def test_off_the_app_loads_no_sdk_and_stores_no_context(tmp_path: Path) -> None:
    """A fresh process with tracing off: a create leaves no trace context, imports no SDK."""
    probe = f"""
import asyncio, json, sys
import httpx
from sqlalchemy import select
from acme.core.messaging import tracing
from acme.core.messaging.tables import outbox
from acme.core.migrations import Migrator
from acme.core.config import load_settings
from acme.core.secrets import EnvironmentSecrets
from acme.core.security import KeySet
from acme_api.main import create_app
from acme_api.settings import Settings

url = "sqlite+aiosqlite:///{tmp_path / "off.db"}"
Migrator(url).upgrade()
keys = json.dumps(KeySet.generate().private_jwks())
environ = {{"ACME_DATABASE_URL": url, "ACME_JWT_KEYS": keys}}
settings = load_settings(Settings, secrets=EnvironmentSecrets(environ))

async def main():
    app = create_app(settings, configure_logs=False)
    async with app.router.lifespan_context(app):
        token = await app.state.container.issue_access_token("alice")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            created = await http.post(
                "/items", json={{"title": "t"}}, headers={{"Authorization": "Bearer " + token}}
            )
            assert created.status_code == 201, created.text
        async with app.state.container.database.reader() as uow:
            stored = (await uow.connection.execute(select(outbox.c.trace_context))).all()
    # alice's account.created and the item.created: neither with a trace context
    print(json.dumps({{
        "stored": [row[0] for row in stored],
        "enabled": tracing.enabled(),
        "sdk": sorted(m for m in sys.modules if m.startswith("opentelemetry.sdk")),
        "instrumentation": sorted(
            m for m in sys.modules if m.startswith("opentelemetry.instrumentation")
        ),
    }}))

asyncio.run(main())
"""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"stored": [None, None], "enabled": False, "sdk": [], "instrumentation": []}
