"""Medians, per-round ratios and the load generator's CPU window."""

from __future__ import annotations

import json
import math

import pytest

from acme_bench.loadgen_cpu import count_events, window_cpu_seconds
from acme_bench.stats import (
    Latency,
    ProcessUsage,
    RunResult,
    Usage,
    median,
    medians_by_target,
    paired_ratios,
    ratio,
)


def run(
    target: str, round_: int, *, rps: float, requests: int = 1000, cpu: float = 1.0
) -> RunResult:
    usage = Usage(
        wall_seconds=10.0,
        server=(
            ProcessUsage(1, "master", 0.0, 30 * 2**20),
            ProcessUsage(2, "worker", cpu, 90 * 2**20),
            ProcessUsage(3, "worker", cpu, 120 * 2**20),
        ),
        proxy=(ProcessUsage(4, "worker", 0.5, 8 * 2**20),),
        loadgen=(ProcessUsage(0, "loadgen", 3.0, 60 * 2**20),),
        postgres_cpu_seconds=2.0,
        system_busy_seconds=12.0,
    )
    latency = Latency(requests, 0, rps, 10.0, 20.0, 30.0, 12.0)
    return RunResult("exp", target, round_, "locust", 32, 2, 10.0, latency, usage)


def test_median_ignores_missing_figures() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([1.0, float("nan"), 3.0]) == 2.0
    assert math.isnan(median([]))


def test_ratio_of_nothing_is_missing_not_zero() -> None:
    assert ratio(3.0, 2.0) == 1.5
    assert math.isnan(ratio(1.0, 0.0))
    assert math.isnan(ratio(float("nan"), 1.0))


def test_metrics_account_cpu_per_request_and_peak_worker_memory() -> None:
    metrics = run("api", 1, rps=100.0, requests=1000, cpu=1.0).metrics()
    # two workers at 1.0 s plus nginx 0.5 s over 1000 requests
    assert metrics["server_cpu_ms_per_req"] == pytest.approx(2.5)
    assert metrics["app_cpu_ms_per_req"] == pytest.approx(2.0)
    assert metrics["server_cpu_pct"] == pytest.approx(25.0)
    assert metrics["loadgen_cpu_pct"] == pytest.approx(30.0)
    assert metrics["peak_worker_rss_mb"] == pytest.approx(120.0)  # the master is not a worker
    # 12 s busy - (2 + 0.5 + 3 + 2) accounted = 4.5 s of others' work over 10 s
    assert metrics["other_cpu_pct"] == pytest.approx(45.0)


def test_paired_ratios_pair_targets_within_each_round() -> None:
    results = [
        run("floor", 1, rps=1000.0),
        run("api", 1, rps=600.0),
        run("api", 2, rps=300.0),  # a noisy round hits both targets alike
        run("floor", 2, rps=500.0),
        run("floor", 3, rps=1000.0),  # api missing in round 3: no pair
    ]
    ratios = paired_ratios(results, metric="rps", numerator="api", denominator="floor")
    assert ratios == pytest.approx([0.6, 0.6])
    medians = medians_by_target(results)
    assert medians["floor"]["rps"] == 1000.0
    assert medians["api"]["rps"] == 450.0


def test_loadgen_cpu_window_sums_each_process_between_its_start_and_stop() -> None:
    lines = [
        json.dumps({"pid": 10, "event": "start", "cpu": 1.5, "t": 0}),
        json.dumps({"pid": 11, "event": "start", "cpu": 2.0, "t": 0}),
        "{not json",
        json.dumps({"pid": 10, "event": "stop", "cpu": 4.0, "t": 20}),
        json.dumps({"pid": 11, "event": "stop", "cpu": 7.0, "t": 20}),
        json.dumps({"pid": 12, "event": "stop", "cpu": 9.0, "t": 20}),  # never started
    ]
    assert window_cpu_seconds(lines) == pytest.approx(2.5 + 5.0)
    assert count_events(lines) == (2, 3)
    assert window_cpu_seconds(lines[:2]) is None
