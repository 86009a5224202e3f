"""The bus and the outbox relay as the API composes them."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import aio_pika
import httpx
import pytest

from acme.accounts import item_counts
from acme.core.config import ConfigError
from acme.core.messaging import Message
from acme.core.messaging.memory import InProcessBus
from acme.core.messaging.outbox import Outbox
from acme.core.messaging.rabbitmq import RabbitMQBus
from acme.core.migrations import Migrator
from acme.core.persistence.database import Database
from acme.core.testing import delete_rabbitmq_topology, eventually
from acme_api import bootstrap
from acme_api.main import create_app

from .conftest import Run, client_of, make_settings
from .conftest import test_jwks as jwks


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


def test_consume_without_a_broker_explains_itself(run: Run, tmp_path: Path) -> None:
    result = run("consume", cwd=tmp_path)
    assert result.returncode == 2
    assert "ACME_AMQP_URL" in result.stderr


async def test_consumers_apart_from_the_api_need_a_broker(tmp_path: Path) -> None:
    settings = make_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", consumers_in_api=False
    )
    app = create_app(settings, configure_logs=False)
    with pytest.raises(ConfigError, match="ACME_CONSUMERS_IN_API"):
        async with app.router.lifespan_context(app):
            pass


def test_a_taken_metrics_address_is_refused_with_its_reason(run: Run, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        env = {"ACME_AMQP_URL": "amqp://guest:guest@127.0.0.1:1/"}
        for command in ("consume", "relay"):
            result = run(command, "--metrics-bind", address, cwd=tmp_path, env=env)
            assert result.returncode == 2, (command, result.stderr)
            assert f"cannot serve metrics on {address}" in result.stderr
            assert "Traceback" not in result.stderr


@pytest.mark.parametrize("address", ["127.0.0.1:99999", "127.0.0.1", "127.0.0.1:0", ":x"])
def test_a_malformed_metrics_address_is_refused(run: Run, tmp_path: Path, address: str) -> None:
    result = run("consume", "--metrics-bind", address, cwd=tmp_path)
    assert result.returncode == 2
    assert "expected HOST:PORT with a port 1-65535" in result.stderr


def test_metrics_are_for_a_running_relay(run: Run, tmp_path: Path) -> None:
    env = {"ACME_AMQP_URL": "amqp://guest:guest@127.0.0.1:1/"}
    result = run("relay", "--once", "--metrics-bind", "127.0.0.1:9", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "not --once" in result.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _sample_total(exposition: str, name: str) -> float:
    """The sum of every sample of ``name`` (over its labels) in a Prometheus exposition."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in exposition.splitlines()
        if line.startswith((name + "{", name + " "))
    )


def _acme_api(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "acme_api", *args],
        cwd=cwd,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )


def _started(process: subprocess.Popen[str], marker: str, seconds: float) -> threading.Thread:
    """Wait for ``marker`` on the process's standard error (AssertionError if it exits or
    stays silent that long); a thread goes on reading it until the process ends."""
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if marker in line:
                found.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert found.wait(seconds), "".join(lines)[-2000:]
    return reader


@pytest.mark.integration
async def test_acme_api_consume_handles_what_the_api_processes_publish(
    fresh_postgres_url: str, amqp_url: str, run_id: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(Migrator(fresh_postgres_url).upgrade)
    exchange = f"test.{run_id}.consume.{uuid.uuid4().hex[:6]}"
    common = {
        "database_url": fresh_postgres_url,
        "amqp_url": amqp_url,
        "amqp_exchange": exchange,
    }
    env = {key: value for key, value in os.environ.items() if not key.startswith("ACME_")}
    env |= {f"ACME_{key.upper()}": value for key, value in common.items()}
    env["ACME_JWT_KEYS"] = jwks()
    metrics_port = _free_port()
    consumer = _acme_api(
        "consume", "--metrics-bind", f"127.0.0.1:{metrics_port}", cwd=tmp_path, env=env
    )
    reader = None
    try:
        reader = _started(consumer, "consuming events", 60)  # its queue is declared by then
        settings = make_settings(**common, consumers_in_api=False, relay_interval=0.1)
        app = create_app(settings, configure_logs=False)
        async with app.router.lifespan_context(app):
            container = app.state.container
            assert container.bus.queue_names() == []  # the API consumes nothing itself
            token = await container.issue_access_token("alice")
            headers = {"Authorization": f"Bearer {token}"}
            async with client_of(app, "http://testserver") as http:
                for n in range(3):
                    created = await http.post("/items", json={"title": f"t{n}"}, headers=headers)
                    assert created.status_code == 201, created.text
                me = uuid.UUID((await http.get("/accounts/me", headers=headers)).json()["id"])

            async def counted() -> int:
                async with container.database.unit_of_work() as uow:
                    return await item_counts.item_count(uow, me)

            await eventually(counted, 3)
        # The consumer process serves its own pipeline metrics: every event's lag, and
        # the handler calls that took them.
        async with httpx.AsyncClient() as http:
            exposition = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
        assert _sample_total(exposition, "acme_consumer_lag_seconds_count") >= 3
        assert _sample_total(exposition, "acme_consumer_handling_seconds_count") >= 1
    finally:
        consumer.send_signal(signal.SIGTERM)
        returned = await asyncio.to_thread(consumer.wait, 30)
        if reader is not None:
            await asyncio.to_thread(reader.join, 5)
        assert consumer.stderr is not None
        consumer.stderr.close()
        assert returned == 0
        names = RabbitMQBus(amqp_url, exchange=exchange)
        item_counts.subscribe(names, lambda: None)  # type: ignore[arg-type, return-value]
        await delete_rabbitmq_topology(amqp_url, exchange, names.queue_names())
