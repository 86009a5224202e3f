"""Reading the load generators' own summaries, and the accounting of a load window."""

from __future__ import annotations

import math

import pytest

from acme_bench import BenchError
from acme_bench.cli import parse_duration
from acme_bench.drivers import Snapshot, parse_wrk_summary, usage


def test_the_wrk_summary_line_is_read_in_the_runners_units() -> None:
    output = (
        "Running 20s test @ http://127.0.0.1:8000\n"
        "  1 threads and 32 connections\n"
        'ACME_BENCH_WRK {"requests":40000,"failures":5,"rps":2000.000,'
        '"p50_ms":1.200,"p95_ms":3.000,"p99_ms":7.000}\n'
    )
    latency = parse_wrk_summary(output)
    assert latency == {
        "requests": 40000,
        "failures": 5,
        "rps": 2000.0,
        "p50_ms": 1.2,
        "p95_ms": 3.0,
        "p99_ms": 7.0,
    }


def test_wrk_output_without_the_summary_line_is_an_error() -> None:
    with pytest.raises(BenchError, match="no ACME_BENCH_WRK line"):
        parse_wrk_summary("Running 20s test\nRequests/sec: 100\n")


def test_a_missing_figure_is_nan_not_zero() -> None:
    latency = parse_wrk_summary('ACME_BENCH_WRK {"requests":0,"failures":0,"rps":0}\n')
    assert latency["requests"] == 0
    assert math.isnan(latency["p99_ms"])


def snap(at: float, busy: float, **cpu: dict[int, float]) -> Snapshot:
    roles = {role: cpu.get(role, {}) for role in ("server", "proxy", "loadgen", "postgres")}
    return Snapshot(at, roles, busy, peak_worker_rss_mb=120.0)


def test_usage_is_each_roles_cpu_between_the_snapshots_and_the_rest_is_others() -> None:
    before = snap(10.0, 100.0, server={1: 0.5, 2: 3.0}, loadgen={9: 1.0}, postgres={5: 2.0})
    after = snap(
        30.0,
        160.0,
        server={1: 0.7, 2: 23.0},  # the master and a worker
        proxy={},
        loadgen={9: 11.0},
        postgres={5: 6.0, 6: 1.5},  # 6 was born in the window: all of its CPU counts
    )
    used = usage(before, after)
    assert used["server"] == pytest.approx(20.2)
    assert used["loadgen"] == pytest.approx(10.0)
    assert used["postgres"] == pytest.approx(5.5)
    assert used["others"] == pytest.approx(60.0 - 20.2 - 10.0 - 5.5)
    assert (used["wall"], used["peak_worker_rss_mb"]) == (20.0, 120.0)
    # wrk has exited by the second snapshot: its own CPU is given
    assert usage(before, after, loadgen=0.4)["loadgen"] == 0.4


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("20", 20.0), ("20s", 20.0), ("1m", 60.0), ("1m30s", 90.0), ("1h", 3600.0), ("2.5s", 2.5)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "0s", "5ms", "-3s"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)
