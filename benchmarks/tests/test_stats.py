"""A run's figures, medians, per-round ratios, their intervals and the regression verdict."""

from __future__ import annotations

import math

import pytest

from acme_bench.stats import (
    Interval,
    RunResult,
    figures,
    judge,
    median,
    median_interval,
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


def test_the_interval_is_the_range_below_six_rounds_with_its_true_coverage() -> None:
    interval = median_interval([1.1, 0.9, 1.0])
    assert (interval.median, interval.low, interval.high, interval.rounds) == (1.0, 0.9, 1.1, 3)
    assert interval.confidence == pytest.approx(0.75)  # 1 - 2 * (1/2)**3
    assert median_interval([5.0, 1.0, 3.0, 2.0, 4.0]).confidence == pytest.approx(0.9375)


@pytest.mark.parametrize(
    ("rounds", "left_out", "coverage"),
    [
        (6, 0, 0.96875),
        (8, 0, 0.9922),
        (9, 1, 0.9609),
        (12, 2, 0.9614),
        (15, 3, 0.9648),
        (16, 3, 0.9787),
        (20, 5, 0.9586),
    ],
)
def test_the_interval_leaves_out_the_most_extreme_rounds_the_binomial_allows(
    rounds: int, left_out: int, coverage: float
) -> None:
    values = [float(v) for v in range(rounds, 0, -1)]  # any order
    interval = median_interval(values)
    assert (interval.low, interval.high) == (1.0 + left_out, rounds - left_out)
    assert interval.confidence == pytest.approx(coverage, abs=1e-4)
    assert interval.confidence >= 0.95
    # one fewer left out on each side would also be a 95 % interval, one more would not
    assert median_interval(values, confidence=0.99).low <= interval.low


def test_outliers_past_the_interval_do_not_move_it() -> None:
    rounds = [0.98, 0.99, 1.0, 1.01, 1.02] * 3 + [2.0]
    interval = median_interval(rounds)
    assert interval.rounds == 16
    assert (interval.low, interval.high) == (0.99, 1.02)  # the 4th smallest and largest of 16
    assert median_interval([*rounds[:-1], 200.0]) == interval


def test_an_interval_needs_two_rounds() -> None:
    single = median_interval([1.2, float("nan")])
    assert (single.median, single.rounds) == (1.2, 1)
    assert math.isnan(single.low)
    assert math.isnan(single.high)
    assert math.isnan(median_interval([]).median)


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


@pytest.mark.parametrize(
    ("metric", "low", "median", "high", "leaning"),
    [
        ("rps", 0.70, 0.80, 0.97, True),  # a pass, but most rounds say slower than 0.95
        ("rps", 0.90, 0.97, 1.05, False),  # within the noise, median on the good side
        ("rps", 0.70, 0.80, 0.90, False),  # a regression, proven
        ("server_cpu_ms_per_req", 1.00, 1.10, 1.20, True),
        ("server_cpu_ms_per_req", 0.95, 1.00, 1.10, False),
    ],
)
def test_a_pass_leans_to_a_regression_when_its_median_is_past_the_limit(
    metric: str, low: float, median: float, high: float, leaning: bool
) -> None:
    judgement = judge(metric, Interval(median, low, high, 12, 0.96), threshold=0.05)
    assert judgement.leaning is leaning


def test_judge_does_not_pass_what_it_cannot_judge() -> None:
    judgement = judge("rps", median_interval([0.5]), threshold=0.05)
    assert (judgement.decided, judgement.regressed, judgement.passed) == (False, False, False)
    assert "cannot judge" in judgement.describe()


def test_judge_refuses_unknown_metrics_and_thresholds() -> None:
    with pytest.raises(ValueError, match="no direction"):
        judge("p99_ms", _interval(0.9, 1.1), threshold=0.05)
    with pytest.raises(ValueError, match="between 0 and 1"):
        judge("rps", _interval(0.9, 1.1), threshold=5.0)
