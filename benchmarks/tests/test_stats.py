"""A run's figures, medians, per-round ratios, their intervals and the regression verdict."""

from __future__ import annotations

import math

import pytest

from acme_bench.stats import (
    Interval,
    RunResult,
    bootstrap_interval,
    figures,
    judge,
    median,
    medians_by_target,
    paired_ratios,
    ratio,
)


def run(target: str, round_: int, *, rps: float) -> RunResult:
    return RunResult(target, round_, {"rps": rps, "p99_ms": 30.0})


def test_median_ignores_missing_figures() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([1.0, float("nan"), 3.0]) == 2.0
    assert math.isnan(median([]))


def test_ratio_of_nothing_is_missing_not_zero() -> None:
    assert ratio(3.0, 2.0) == 1.5
    assert math.isnan(ratio(1.0, 0.0))
    assert math.isnan(ratio(float("nan"), 1.0))


def test_figures_are_cpu_per_request_and_shares_of_a_core() -> None:
    latency = {"requests": 1000, "failures": 0, "rps": 100.0, "p50_ms": 9.0}
    usage = {"server": 2.0, "proxy": 0.5, "loadgen": 3.0, "postgres": 2.0, "others": 4.5}
    metrics = figures(latency, {**usage, "wall": 10.0, "peak_worker_rss_mb": 120.0})
    assert metrics["p50_ms"] == 9.0  # the load generator's own figures pass through
    # two workers' 2.0 s plus nginx's 0.5 s over 1000 requests
    assert metrics["server_cpu_ms_per_req"] == pytest.approx(2.5)
    assert metrics["app_cpu_ms_per_req"] == pytest.approx(2.0)
    assert metrics["server_cpu_pct"] == pytest.approx(25.0)
    assert metrics["loadgen_cpu_pct"] == pytest.approx(30.0)
    assert metrics["loadgen_cpu_ms_per_req"] == pytest.approx(3.0)
    assert metrics["other_cpu_pct"] == pytest.approx(45.0)
    assert metrics["peak_worker_rss_mb"] == 120.0
    nothing = figures({**latency, "requests": 0}, {**usage, "wall": 10.0, "peak_worker_rss_mb": 0})
    assert math.isnan(nothing["server_cpu_ms_per_req"])


def test_paired_ratios_pair_targets_within_each_round() -> None:
    results = [
        run("floor", 1, rps=1000.0),
        run("api", 1, rps=600.0),
        run("api", 2, rps=300.0),  # a noisy round hits both targets alike
        run("floor", 2, rps=500.0),
        run("floor", 3, rps=1000.0),  # api missing in round 3: no pair
    ]
    ratios = paired_ratios(results, "rps", "api", "floor")
    assert ratios == pytest.approx([0.6, 0.6])
    medians = medians_by_target(results)
    assert medians["floor"]["rps"] == 1000.0
    assert medians["api"]["rps"] == 450.0


def test_bootstrap_of_three_rounds_is_their_range_and_reproduces() -> None:
    # Each value is the median of a resample of 3 with probability 7/27, far
    # above the 2.5 % tails: three rounds cannot claim a narrower interval.
    interval = bootstrap_interval([1.1, 0.9, 1.0])
    assert interval == Interval(1.0, 0.9, 1.1, 3, 0.95)
    assert bootstrap_interval([1.1, 0.9, 1.0]) == interval


def test_bootstrap_of_many_rounds_leaves_one_outlier_outside() -> None:
    rounds = [0.98, 0.99, 1.0, 1.01, 1.02] * 3 + [2.0]
    interval = bootstrap_interval(rounds)
    assert interval.rounds == 16
    assert 0.98 <= interval.low <= interval.median <= interval.high < 1.05
    wider = bootstrap_interval(rounds, confidence=0.999)
    assert wider.low <= interval.low
    assert wider.high >= interval.high


def test_bootstrap_needs_two_rounds_for_any_spread() -> None:
    single = bootstrap_interval([1.2, float("nan")])
    assert (single.median, single.rounds) == (1.2, 1)
    assert math.isnan(single.low)
    assert math.isnan(single.high)
    assert math.isnan(bootstrap_interval([]).median)


def _interval(low: float, high: float) -> Interval:
    return Interval((low + high) / 2, low, high, 5, 0.95)


@pytest.mark.parametrize(
    ("metric", "low", "high", "regressed", "clear"),
    [
        ("rps", 0.78, 0.86, True, False),  # wholly below 0.95: B serves 14-22 % less
        ("rps", 0.88, 1.00, False, False),  # median 0.94 is past 0.95, the interval is not
        ("rps", 0.951, 0.97, False, True),  # slower, but not by more than 5 %
        ("rps", 1.20, 1.30, False, True),  # faster is never a regression
        ("server_cpu_ms_per_req", 1.10, 1.30, True, False),  # wholly above 1.05
        ("server_cpu_ms_per_req", 1.00, 1.20, False, False),  # median 1.10, but straddles 1.05
        ("server_cpu_ms_per_req", 0.70, 0.80, False, True),  # cheaper
    ],
)
def test_judge_calls_a_regression_only_when_the_whole_interval_is_past_the_limit(
    metric: str, low: float, high: float, regressed: bool, clear: bool
) -> None:
    judgement = judge(metric, _interval(low, high), threshold=0.05)
    assert judgement.decided
    assert judgement.regressed is regressed
    assert judgement.passed is not regressed
    assert judgement.clear is clear
    described = judgement.describe()
    assert ("REGRESSION" in described) is regressed
    assert ("within the noise" in described) is (not regressed and not clear)


def test_judge_does_not_pass_what_it_cannot_judge() -> None:
    judgement = judge("rps", bootstrap_interval([0.5]), threshold=0.05)
    assert (judgement.decided, judgement.regressed, judgement.passed) == (False, False, False)
    assert "cannot judge" in judgement.describe()


def test_judge_refuses_unknown_metrics_and_thresholds() -> None:
    with pytest.raises(ValueError, match="no direction"):
        judge("p99_ms", _interval(0.9, 1.1), threshold=0.05)
    with pytest.raises(ValueError, match="between 0 and 1"):
        judge("rps", _interval(0.9, 1.1), threshold=5.0)
