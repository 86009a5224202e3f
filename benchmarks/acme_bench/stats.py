"""The arithmetic over rounds: a run's figures, medians, per-round B/A ratios, the
confidence interval of their median and the regression verdict.

Pure standard library: the unit tests import it without the benchmark extras.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

NAN = float("nan")
# Which way is better for each metric a threshold can judge, as a B/A ratio.
HIGHER_IS_BETTER: Mapping[str, bool] = {"rps": True, "server_cpu_ms_per_req": False}


@dataclass(frozen=True, slots=True)
class RunResult:
    """One measurement: a scenario driven against one target in one round; its :func:`figures`."""

    target: str
    round: int
    metrics: Mapping[str, float]


def figures(latency: Mapping[str, float], usage: Mapping[str, float]) -> dict[str, float]:
    """A run's figures from the load generator's ``latency`` (``requests``, ``failures``,
    ``rps``, ``p50_ms``, ``p95_ms``, ``p99_ms``) and the ``usage`` over its load window
    (CPU seconds of ``server``: gunicorn, ``proxy``: nginx, ``loadgen``, ``postgres``
    and ``others``; ``wall`` seconds; ``peak_worker_rss_mb``)."""
    requests, wall = latency["requests"], usage["wall"]

    def per_request(seconds: float) -> float:
        return 1000.0 * seconds / requests if requests else NAN

    def percent(seconds: float) -> float:  # of one core: 200 % is both cores
        return 100.0 * seconds / wall if wall > 0 else NAN

    server = usage["server"] + usage["proxy"]
    return {
        **latency,
        "server_cpu_ms_per_req": per_request(server),
        "app_cpu_ms_per_req": per_request(usage["server"]),
        "server_cpu_pct": percent(server),
        "loadgen_cpu_pct": percent(usage["loadgen"]),
        "loadgen_cpu_ms_per_req": per_request(usage["loadgen"]),
        "postgres_cpu_pct": percent(usage["postgres"]),
        "other_cpu_pct": percent(usage["others"]),
        "peak_worker_rss_mb": usage["peak_worker_rss_mb"],
    }


def median(values: Iterable[float]) -> float:
    """The median, or NaN for no values (a missing figure, not a zero)."""
    data = [v for v in values if not math.isnan(v)]
    return statistics.median(data) if data else NAN


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, NaN when the denominator is zero or missing."""
    return NAN if denominator == 0 or math.isnan(denominator) else numerator / denominator


def paired_ratios(
    results: Sequence[RunResult], metric: str, numerator: str, denominator: str
) -> list[float]:
    """Per-round ``numerator/denominator`` of a metric, pairing the targets of each round:
    interleaved rounds run both close together, so drift from other load cancels."""
    by_round: dict[int, dict[str, float]] = {}
    for result in results:
        by_round.setdefault(result.round, {})[result.target] = result.metrics[metric]
    pairs = [values for _, values in sorted(by_round.items())]
    return [
        ratio(v[numerator], v[denominator]) for v in pairs if numerator in v and denominator in v
    ]


def medians_by_target(results: Iterable[RunResult]) -> dict[str, dict[str, float]]:
    """For each target, the median of every metric over its rounds."""
    grouped: dict[str, list[Mapping[str, float]]] = {}
    for result in results:
        grouped.setdefault(result.target, []).append(result.metrics)
    keys = {t: dict.fromkeys(key for m in rows for key in m) for t, rows in grouped.items()}
    return {
        t: {key: median(m.get(key, NAN) for m in rows) for key in keys[t]}
        for t, rows in grouped.items()
    }


@dataclass(frozen=True, slots=True)
class Interval:
    """The median of per-round figures and a confidence interval around it, ``confidence``
    its coverage (``low`` and ``high`` NaN below two rounds: one round is a point)."""

    median: float
    low: float
    high: float
    rounds: int
    confidence: float


def median_interval(values: Iterable[float], *, confidence: float = 0.95) -> Interval:
    """The median of ``values`` (NaNs left out) and its distribution-free confidence interval.

    The interval runs from the k-th smallest to the k-th largest value, k as large as
    the binomial distribution allows: the true median lies below the k-th smallest of
    n values with probability P(Bin(n, 1/2) < k), whatever the values' distribution
    (the sign test's interval). No resampling, no seed, and ``confidence`` is its
    exact coverage: 96 % for 9 rounds, k = 2; 96 % for 12, k = 3; 96 % for 15, k = 4;
    below 6 rounds no interval reaches 95 % and the range is given (75 % for 3).
    """
    data = sorted(v for v in values if not math.isnan(v))
    n = len(data)
    if n < 2:
        return Interval(median(data), NAN, NAN, n, NAN)

    def outside(k: int) -> float:  # P(the true median is below the k-th smallest of n)
        return sum(math.comb(n, i) for i in range(k)) / (1 << n)

    k = 1
    while k < n // 2 and 2 * outside(k + 1) <= 1 - confidence:
        k += 1
    return Interval(median(data), data[k - 1], data[n - k], n, 1 - 2 * outside(k))


@dataclass(frozen=True, slots=True)
class Judgement:
    """The verdict on one B/A ratio against a threshold (:func:`judge`): ``passed`` is False
    for a regression and when there is no interval (a job that measured nothing must not
    pass); ``clear`` when the whole interval is on the good side of the limit."""

    metric: str
    interval: Interval
    limit: float
    regressed: bool
    decided: bool
    clear: bool

    @property
    def passed(self) -> bool:
        return self.decided and not self.regressed

    @property
    def leaning(self) -> bool:
        """A pass whose median is past the limit: the rounds lean to a regression they
        could not prove."""
        i, higher = self.interval, HIGHER_IS_BETTER[self.metric]
        return self.passed and (i.median < self.limit if higher else i.median > self.limit)

    def describe(self) -> str:
        i, bound = self.interval, "<" if HIGHER_IS_BETTER[self.metric] else ">"
        if not self.decided:
            verdict = "cannot judge (fewer than two paired rounds)"
        elif self.regressed or self.clear:
            verdict = "REGRESSION" if self.regressed else "pass"
        else:  # the rounds spread too much to rule a regression out
            verdict = "pass, within the noise (more rounds or a quieter machine would decide)"
        spread = f"{i.confidence:.0%} interval [{i.low:.3f}, {i.high:.3f}] over {i.rounds} rounds"
        limit = f"regression if the whole interval is {bound} {self.limit:.3f}"
        return f"{verdict}: B/A {i.median:.3f}, {spread}; {limit}"


def judge(metric: str, interval: Interval, *, threshold: float) -> Judgement:
    """Whether B regressed on ``metric`` by more than ``threshold`` (0.05 for 5 %), judged on
    the interval: for requests/s (higher is better) one wholly below ``1 - threshold``, for
    CPU per request one wholly above ``1 + threshold``. One straddling the limit is noise.

    Raises:
        ValueError: ``metric`` has no known direction, or ``threshold`` is not in (0, 1).
    """
    if metric not in HIGHER_IS_BETTER:
        raise ValueError(f"no direction known for {metric!r}: one of {sorted(HIGHER_IS_BETTER)}")
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be between 0 and 1, not {threshold!r}")
    decided = not (math.isnan(interval.low) or math.isnan(interval.high))
    if HIGHER_IS_BETTER[metric]:
        limit = 1.0 - threshold
        regressed, clear = interval.high < limit, interval.low >= limit
    else:
        limit = 1.0 + threshold
        regressed, clear = interval.low > limit, interval.high <= limit
    return Judgement(metric, interval, limit, decided and regressed, decided, decided and clear)
