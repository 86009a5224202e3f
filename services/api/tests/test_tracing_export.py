"""Tracing's exporters as an operator turns them on: the ``OTEL_*`` variables only.

OTLP over HTTP to a receiver on loopback, decoded with opentelemetry-proto;
and ``acme-api serve`` with ``OTEL_TRACES_EXPORTER=console`` on the embedded
default, its printed spans parsed back (indented JSON objects back to back).
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from acme.accounts import item_counts
from acme.core.migrations import Migrator
from acme.core.testing import eventually, free_port, wait_until
from acme_api.main import create_app

from .conftest import client_of, make_settings, serving


class Receiver(ThreadingHTTPServer):
    """An OTLP/HTTP trace receiver: keeps every ``POST /v1/traces`` body it is sent."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[ExportTraceServiceRequest] = []

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def spans(self) -> list[tuple[dict[str, Any], Span]]:
        """Every span received, with its resource's attributes."""
        found = []
        for request in self.requests:
            for resource_spans in request.resource_spans:
                resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    found.extend((resource, span) for span in scope_spans.spans)
        return found


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path != "/v1/traces" or self.headers["Content-Type"] != "application/x-protobuf":
            self.send_response(404)
        else:
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            self.server.requests.append(request)
            self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads what arrived, not an access log."""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


async def test_otlp_http_export_reaches_a_receiver(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "acme-api-test")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    url = f"sqlite+aiosqlite:///{tmp_path / 'api.db'}"
    await asyncio.to_thread(Migrator(url).upgrade)
    app = create_app(make_settings(database_url=url, relay_interval=0.1), configure_logs=False)
    async with app.router.lifespan_context(app):
        container = app.state.container
        token = await container.issue_access_token("alice")
        async with client_of(app, "http://t") as http:
            created = await http.post(
                "/items", json={"title": "t"}, headers={"Authorization": f"Bearer {token}"}
            )
            assert created.status_code == 201, created.text
        me = (await http_get_me(app, token))["id"]
        await eventually(lambda: count_of(container, me), 1)
    # The lifespan's end flushed the batch processor to the receiver.
    spans = receiver.spans()
    assert {resource["service.name"] for resource, _ in spans} == {"acme-api-test"}
    (server,) = [s for _, s in spans if s.kind == Span.SPAN_KIND_SERVER and s.name == "POST /items"]
    consumers = [
        s
        for _, s in spans
        if s.kind == Span.SPAN_KIND_CONSUMER and s.name == "process item.created"
    ]
    assert [c.trace_id for c in consumers] == [server.trace_id]


async def http_get_me(app: Any, token: str) -> dict[str, Any]:
    async with client_of(app, "http://t") as http:
        me: dict[str, Any] = (
            await http.get("/accounts/me", headers={"Authorization": f"Bearer {token}"})
        ).json()
    return me


async def count_of(container: Any, account: str) -> int:
    async with container.database.unit_of_work() as uow:
        return await item_counts.item_count(uow, uuid.UUID(account))


def printed_objects(text: str) -> list[dict[str, Any]]:
    """Every JSON object that starts a line of ``text`` (the console exporter's
    indented spans, back to back, between the log lines)."""
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    position = 0
    while (start := text.find("{", position)) != -1:
        if start and text[start - 1] != "\n":
            position = start + 1
            continue
        try:
            value, position = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            position = start + 1
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


def processed(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        (count,) = connection.execute(
            "SELECT count(*) FROM acme_processed_messages WHERE consumer = ?",
            (item_counts.CONSUMER,),
        ).fetchone()
    return int(count)


def test_serve_with_the_console_exporter_prints_one_trace_to_the_consumer(
    tmp_path: Path,
) -> None:
    """``OTEL_TRACES_EXPORTER=console acme-api serve``, one ``POST /items``, as a person does."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ACME_", "OTEL_"))}
    with serving(port=free_port(), cwd=tmp_path, env={"OTEL_TRACES_EXPORTER": "console"}) as served:
        issued = subprocess.run(
            [sys.executable, "-m", "acme_api", "token", "issue", "--account", "alice"],
            cwd=tmp_path,
            env=clean,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert issued.returncode == 0, issued.stderr
        token = issued.stdout.strip().splitlines()[-1]
        created = httpx.post(
            f"{served.base}/items",
            json={"title": "traced"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        # alice's account.created and the item.created, both handled
        wait_until(lambda: processed(tmp_path / "acme.db") == 2, timeout=20, what="the consumer")
    assert served.process.returncode == 0, served.output
    spans = [o for o in printed_objects(served.output) if "context" in o and "kind" in o]
    (request,) = [s for s in spans if s["name"] == "POST /items" and s["kind"] == "SpanKind.SERVER"]
    (consumer,) = [
        s
        for s in spans
        if s["kind"] == "SpanKind.CONSUMER"
        and s["attributes"].get("messaging.consumer.group.name") == item_counts.CONSUMER
        and s["attributes"].get("messaging.destination.name") == "item.created"
    ]
    assert consumer["context"]["trace_id"] == request["context"]["trace_id"]
    assert request["resource"]["attributes"]["service.name"] == "acme-api"
