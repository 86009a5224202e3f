"""Scale-out rehearsed on one machine: a rolling restart under load loses nothing.

Three API replicas, each started by the image's command line (tini, then
gunicorn) on a port of its own, behind the real nginx (one upstream with three
servers, a Service's endpoints) and one PgBouncer in front of a private
PostgreSQL. Under a steady load of creates and reads, each replica in turn goes
through what Kubernetes does to a pod: readiness off (out of nginx's rotation),
SIGTERM (drain, finish in flight, exit), a new process on the same port, ready,
back in rotation. Not one request fails, every acknowledged write reads back,
and the test prints the p99 latency before and during the roll.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from stackkit import BIN, InImage, Nginx, Outcome, PgBouncer, PrivatePostgres, load

pytestmark = [pytest.mark.integration, pytest.mark.system, pytest.mark.operations]

REPLICAS = 3
# Between two requests of one client: a steady load (about 250 requests a
# second over six clients) that leaves the two cores room to restart replicas.
PACE = 0.02


def run(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class Fleet:
    """The replicas, nginx in front, and the writes acknowledged so far."""

    def __init__(self, root: Path, env: dict[str, str], nginx: Nginx) -> None:
        self.root, self.env, self.nginx = root, env, nginx
        self.replicas: list[InImage] = []
        self.created: list[dict[str, str]] = []
        self.lock = threading.Lock()

    def replica(self, index: int, port: int | None = None) -> InImage:
        extra = {} if port is None else {"port": port}
        return InImage(self.root / f"replica-{index}", env=self.env, workers=1, **extra)

    def roll(self, index: int) -> None:
        """What a rolling update does to one pod, in Kubernetes' order."""
        old = self.replicas[index]
        self.nginx.route(old.address, serving=False)  # readiness off: out of the endpoints
        old.stop(timeout=60)  # SIGTERM to tini: gunicorn drains, finishes, exits
        assert old.process is not None
        assert old.process.returncode == 0, f"replica {index} exited {old.process.returncode}"
        new = self.replica(index, port=old.port)
        new.log_name = f"server-{time.monotonic_ns()}.log"
        new.start()  # ready: /health/ready answers 200
        self.replicas[index] = new
        self.nginx.route(new.address, serving=True)


def p99(outcomes: list[Outcome]) -> float:
    durations = sorted(o.ended - o.started for o in outcomes)
    assert durations, "no request in that window"
    return durations[min(len(durations) - 1, int(len(durations) * 0.99))]


@pytest.fixture(scope="module")
def fleet(
    postgres_cluster: PrivatePostgres, pgbouncer: PgBouncer, nginx_binary: str, tini: str
) -> Iterator[Fleet]:
    root = Path(tempfile.mkdtemp(prefix="acme-fleet-"))
    base = {
        "ACME_ENV": "development",
        "ACME_SECRETS": "env",
        "ACME_DATABASE_URL": postgres_cluster.url,
        "ACME_DRAIN_SECONDS": "1",
        "ACME_SHUTDOWN_TIMEOUT": "10",
        "ACME_LOG_FORMAT": "json",
    }
    environ = {k: v for k, v in InImage(root).environment().items() if not k.startswith("ACME_")}
    direct = {**environ, **base}
    base["ACME_JWT_KEYS"] = run([str(BIN / "acme-api"), "keys", "generate"], direct)
    direct["ACME_JWT_KEYS"] = base["ACME_JWT_KEYS"]
    run([str(BIN / "acme-api"), "migrate"], direct)  # migrations connect directly
    token = run([str(BIN / "acme-api"), "token", "issue", "--account", "roller"], direct)
    env = {
        **base,
        "ACME_DATABASE_URL": pgbouncer.database_url(),
        "ACME_DB_PGBOUNCER": "true",
        "ACME_DB_POOL_SIZE": "5",
        "ACME_TOKEN": token.strip().splitlines()[-1],
    }
    fleet = Fleet(root, env, Nginx(root / "nginx", binary=nginx_binary))
    try:
        for index in range(REPLICAS):
            replica = fleet.replica(index)
            replica.start()
            fleet.replicas.append(replica)
        fleet.nginx.replicas = tuple(r.address for r in fleet.replicas)
        fleet.nginx.start()
        yield fleet
    finally:
        fleet.nginx.stop()
        for replica in fleet.replicas:
            replica.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_a_rolling_restart_under_load_fails_no_request_and_loses_no_write(fleet: Fleet) -> None:
    auth = {"Authorization": f"Bearer {fleet.env['ACME_TOKEN']}", "Connection": "close"}

    def write(client: httpx.Client) -> httpx.Response:
        time.sleep(PACE)
        response = client.post("/items", json={"title": f"r-{uuid.uuid4().hex}"}, headers=auth)
        if response.status_code == 201:
            with fleet.lock:
                fleet.created.append(response.json())
        return response

    def read(client: httpx.Client) -> httpx.Response:
        time.sleep(PACE)
        with fleet.lock:
            item = random.choice(fleet.created) if fleet.created else None
        if item is None:
            return client.get("/items", headers=auth)
        return client.get(f"/items/{item['id']}", headers=auth)

    stop = threading.Event()
    writes, writers = load(write, base_url=fleet.nginx.url, clients=3, stop=stop, max_seconds=150)
    reads, readers = load(read, base_url=fleet.nginx.url, clients=3, stop=stop, max_seconds=150)
    try:
        time.sleep(8)
        roll_started = time.monotonic()
        for index in range(REPLICAS):
            fleet.roll(index)
        roll_ended = time.monotonic()
        time.sleep(2)
    finally:
        stop.set()
        for thread in (*writers, *readers):
            thread.join(timeout=60)

    outcomes = [*writes, *reads]
    failed = [o for o in outcomes if o.status not in (200, 201)]
    before = [o for o in outcomes if o.ended < roll_started]
    during = [o for o in outcomes if roll_started <= o.started <= roll_ended]
    print(
        f"\nrolling restart of {REPLICAS} replicas in {roll_ended - roll_started:.1f} s: "
        f"{len(outcomes)} requests ({len(fleet.created)} writes acknowledged), "
        f"{len(failed)} failed; p99 before {p99(before) * 1000:.0f} ms, "
        f"during the roll {p99(during) * 1000:.0f} ms"
    )
    assert failed == [], [(o.status, o.error, o.body[:200]) for o in failed[:5]]
    assert len(during) > 50, "the load did not run through the roll"
    assert any(o.started > roll_ended for o in writes), "no write after the roll"
    # Every replica is a new process, and nginx sent traffic to each after its restart.
    served = {
        json.loads(line)["upstream_addr"]
        for line in fleet.nginx.access_log.read_text().splitlines()
    }
    assert {r.address for r in fleet.replicas} <= served

    local = threading.local()

    def read_back(item: dict[str, str]) -> tuple[int, object]:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=fleet.nginx.url, timeout=30)
        response = local.client.get(f"/items/{item['id']}", headers=auth)
        return response.status_code, response.json().get("title")

    with ThreadPoolExecutor(6) as pool:
        found = list(pool.map(read_back, fleet.created))
    lost = [
        item["id"]
        for item, got in zip(fleet.created, found, strict=True)
        if got != (200, item["title"])
    ]
    assert lost == [], f"{len(lost)} of {len(fleet.created)} acknowledged writes lost"
