"""Writes through the stack under faults: no acknowledged write is ever lost.

Every write is a real ``POST /items`` with a bearer token from ``acme-api token
issue``. After each fault, every write that was acknowledged (201) is read back
by id.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from stackkit import (
    BIN,
    ApiUnderSupervisor,
    Nginx,
    Outcome,
    PrivatePostgres,
    load,
)

from acme.core.testing import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.system]


@pytest.fixture(scope="module")
def token(api: ApiUnderSupervisor) -> str:
    """An access token for a development account, from the CLI as an operator gets one."""
    issued = subprocess.run(
        [str(BIN / "acme-api"), "token", "issue", "--account", "stack-writer"],
        env=api.environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return issued.stdout.strip().splitlines()[-1]


def writer(token: str) -> Callable[[httpx.Client], httpx.Response]:
    def send(client: httpx.Client) -> httpx.Response:
        return client.post(
            "/items",
            json={"title": f"w-{uuid.uuid4().hex}"},
            headers={"Authorization": f"Bearer {token}"},
        )

    return send


def acknowledged(outcomes: list[Outcome]) -> list[dict[str, object]]:
    return [json.loads(o.body) for o in outcomes if o.status == 201]


def assert_all_readable(base_url: str, token: str, created: list[dict[str, object]]) -> None:
    """Every acknowledged item is there, with the title it was created with."""

    def read(item: dict[str, object]) -> tuple[int, object]:
        response = httpx.get(
            f"{base_url}/items/{item['id']}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        return response.status_code, response.json().get("title")

    with ThreadPoolExecutor(8) as pool:
        found = list(pool.map(read, created))
    lost = [
        (item["id"], got)
        for item, got in zip(created, found, strict=True)
        if got != (200, item["title"])
    ]
    assert lost == [], f"{len(lost)} of {len(created)} acknowledged writes lost: {lost[:3]}"


def unhandled_errors(api: ApiUnderSupervisor) -> str:
    """The end of the first traceback the API logged as an unhandled error (for failures)."""
    for line in api.log().splitlines():
        if '"unhandled error' in line:
            record = json.loads(line)
            return "\n".join(str(record.get("exc_info", record)).splitlines()[-12:])
    return "no unhandled error logged"


def poll_readiness(
    base_url: str, stop: threading.Event
) -> tuple[list[tuple[float, int | None, str | None]], threading.Thread]:
    """Record (time, status, problem code) of /health/ready every 50 ms until ``stop``."""
    seen: list[tuple[float, int | None, str | None]] = []

    def run() -> None:
        with httpx.Client(base_url=base_url, timeout=5) as client:
            while not stop.is_set():
                try:
                    response = client.get("/health/ready")
                    code = response.json().get("code") if response.status_code != 200 else None
                    seen.append((time.monotonic(), response.status_code, code))
                except httpx.HTTPError:
                    seen.append((time.monotonic(), None, None))
                time.sleep(0.05)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return seen, thread


def test_sigterm_under_load_drains_and_loses_no_write(
    edge: Nginx, ready_api: ApiUnderSupervisor, token: str
) -> None:
    master = ready_api.master_pid()
    stop_polling = threading.Event()
    readiness, poller = poll_readiness(edge.url, stop_polling)
    stop_sending = threading.Event()
    outcomes, threads = load(
        writer(token), base_url=edge.url, clients=4, stop=stop_sending, max_seconds=30
    )
    time.sleep(1.0)
    terminated_at = time.monotonic()
    os.kill(master, signal.SIGTERM)
    # A balancer stops sending new requests once readiness fails; so does this load.
    wait_until(
        lambda: any(status == 503 for _, status, _ in readiness),
        timeout=5,
        what="readiness to turn 503",
    )
    stop_sending.set()
    for thread in threads:
        thread.join(timeout=30)
    wait_until(
        lambda: not os.path.exists(f"/proc/{master}"),
        timeout=30,
        what="the old gunicorn master to exit",
    )
    stop_polling.set()
    poller.join(timeout=10)

    first_503 = next((t, code) for t, status, code in readiness if status == 503)
    assert first_503[1] == "draining"
    assert first_503[0] - terminated_at < 1.0
    # Not one request failed, and the workers kept writing during the drain.
    failed = [o for o in outcomes if o.status != 201]
    assert failed == [], failed[:3]
    assert any(o.started > terminated_at for o in outcomes)
    # supervisord starts a new gunicorn; every acknowledged write is there.
    ready_api.wait_ready(timeout=60)
    assert ready_api.master_pid() != master
    assert_all_readable(edge.url, token, acknowledged(outcomes))


def test_a_write_in_flight_when_the_listener_closes_still_completes(
    ready_api: ApiUnderSupervisor, token: str
) -> None:
    body = json.dumps({"title": "in flight across a shutdown"}).encode()
    head = (
        "POST /items HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    master = ready_api.master_pid()
    with socket.create_connection(("127.0.0.1", ready_api.port), timeout=30) as client:
        client.sendall(head + body[:10])  # the request has begun: half of its body is here
        time.sleep(0.2)
        os.kill(master, signal.SIGTERM)

        def refuses_connections() -> bool:
            try:
                socket.create_connection(("127.0.0.1", ready_api.port), timeout=1).close()
            except OSError:
                return True
            return False

        # Drain period over: the workers no longer accept, but this request is in flight.
        wait_until(refuses_connections, timeout=15, what="gunicorn to stop accepting")
        client.sendall(body[10:])
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk

    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 201"), answer[:500]
    created = json.loads(rest.partition(b"\r\n\r\n")[2])
    ready_api.wait_ready(timeout=60)
    assert ready_api.master_pid() != master
    assert_all_readable(ready_api.url, token, [created])


def test_a_database_restart_under_load_loses_no_acknowledged_write(
    ready_api: ApiUnderSupervisor, postgres_cluster: PrivatePostgres, token: str
) -> None:
    master, workers = ready_api.master_pid(), ready_api.worker_pids()
    stop_sending = threading.Event()
    outcomes, threads = load(
        writer(token), base_url=ready_api.url, clients=4, stop=stop_sending, max_seconds=60
    )
    try:
        time.sleep(1.0)
        postgres_cluster.stop("fast")
        try:
            wait_until(
                lambda: httpx.get(f"{ready_api.url}/health/ready", timeout=10).status_code == 503,
                timeout=15,
                what="readiness to report the database down",
            )
            down = httpx.get(f"{ready_api.url}/health/ready", timeout=10).json()
            assert down["code"] == "not_ready"
            assert down["checks"]["database"] == "unavailable"
            time.sleep(1.0)
        finally:
            postgres_cluster.start()
        restarted_at = time.monotonic()
        ready_api.wait_ready(timeout=15)
        recovery = time.monotonic() - restarted_at
        wait_until(
            lambda: any(o.status == 201 and o.started > restarted_at for o in outcomes),
            timeout=15,
            what="a write to succeed after the restart",
        )
        time.sleep(1.0)
    finally:
        stop_sending.set()
        for thread in threads:
            thread.join(timeout=30)

    assert recovery < 10, f"took {recovery:.1f}s to recover"
    # The same processes: the API recovered without a restart.
    assert ready_api.master_pid() == master
    assert ready_api.worker_pids() == workers
    failures = [o for o in outcomes if o.status != 201]
    assert failures, "the outage refused no write: the database was not really down"
    # A refused write is a clean 503 problem document, never a hang or a bare error.
    assert {o.status for o in failures} == {503}, unhandled_errors(ready_api)
    assert all(json.loads(o.body)["code"] for o in failures)
    assert_all_readable(ready_api.url, token, acknowledged(outcomes))
