"""The stack serving: metrics summed over every worker, a killed worker replaced."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from stackkit import ApiUnderSupervisor, Nginx, load

from acme.core.testing import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.system]


def samples(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """One scrape of /metrics, as {(sample name, labels): value}, on a new connection."""
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def labels(**values: str) -> frozenset[tuple[str, str]]:
    return frozenset(values.items())


def count(scrape: dict[tuple[str, frozenset[tuple[str, str]]], float], route: str) -> float:
    key = ("acme_http_requests_total", labels(method="GET", route=route, status="200"))
    return scrape.get(key, 0.0)


def in_parallel(calls: Iterable[object], threads: int = 8) -> None:
    work = list(calls)
    chunks = [work[i::threads] for i in range(threads)]

    def run(chunk: list[object]) -> None:
        for call in chunk:
            call()  # type: ignore[operator]

    pool = [threading.Thread(target=run, args=(chunk,)) for chunk in chunks]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=60)


def test_metrics_add_up_over_every_worker(ready_api: ApiUnderSupervisor) -> None:
    before = samples(ready_api.url)
    sent = 120

    def one() -> None:
        # A new connection each time, so the kernel spreads them over the workers.
        assert httpx.get(f"{ready_api.url}/health/live", timeout=10).status_code == 200

    in_parallel([one] * sent)
    assert httpx.get(f"{ready_api.url}/no/such/path", timeout=10).status_code == 404

    served_by = {p.name.split("_")[-1] for p in (ready_api.root / "metrics").glob("counter_*.db")}
    assert len(served_by) >= 2, f"only one worker served requests: {served_by}"
    # Whichever worker answers the scrape, the totals are those of all workers.
    for _ in range(6):
        after = samples(ready_api.url)
        assert count(after, "/health/live") - count(before, "/health/live") == sent
        histogram_count = after[
            ("acme_http_request_duration_seconds_count", labels(method="GET", route="/health/live"))
        ]
        assert histogram_count == count(after, "/health/live")
        infinite = after[
            (
                "acme_http_request_duration_seconds_bucket",
                labels(method="GET", route="/health/live", le="+Inf"),
            )
        ]
        assert infinite == histogram_count
        unmatched = labels(method="GET", route="<unmatched>", status="404")
        assert after[("acme_http_requests_total", unmatched)] >= 1


def test_a_killed_worker_is_replaced_and_service_goes_on(
    edge: Nginx, ready_api: ApiUnderSupervisor
) -> None:
    master = ready_api.master_pid()
    workers = ready_api.worker_pids()
    victim = min(workers)
    before = count(samples(ready_api.url), "/health/live")
    stop = threading.Event()
    outcomes, threads = load(
        lambda client: client.get("/health/live"),
        base_url=edge.url,
        clients=4,
        stop=stop,
        max_seconds=20,
    )
    time.sleep(0.5)
    killed_at = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    wait_until(
        lambda: victim not in ready_api.worker_pids() and len(ready_api.worker_pids()) == 2,
        timeout=15,
        what="gunicorn to replace the killed worker",
    )
    ready_api.wait_ready(timeout=15)
    replaced_at = time.monotonic()
    time.sleep(1.0)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)

    assert ready_api.master_pid() == master
    after_replacement = [o for o in outcomes if o.started > replaced_at]
    assert len(after_replacement) > 20
    assert all(o.status == 200 for o in after_replacement), after_replacement[:5]
    failures = [o for o in outcomes if o.status != 200]
    # Only requests in flight around the kill may have failed.
    assert all(killed_at - 0.5 <= o.ended <= replaced_at + 0.5 for o in failures), failures
    # The dead worker's counts stay in the totals.
    assert count(samples(ready_api.url), "/health/live") >= before + len(after_replacement)
