"""What one measurement produced, and the arithmetic over rounds (medians, ratios,
their bootstrap intervals and the regression verdict).

Pure standard library: the unit tests import it without the benchmark extras.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "HIGHER_IS_BETTER",
    "Interval",
    "Judgement",
    "Latency",
    "ProcessUsage",
    "RunResult",
    "Usage",
    "bootstrap_interval",
    "judge",
    "median",
    "medians_by_target",
    "paired_ratios",
    "ratio",
]


@dataclass(frozen=True, slots=True)
class Latency:
    """Request counts and latency percentiles (milliseconds) of one endpoint or a whole run."""

    requests: int
    failures: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    avg_ms: float
    max_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class ProcessUsage:
    """CPU seconds used during the measured window and the peak resident set of one process."""

    pid: int
    role: str
    cpu_seconds: float
    peak_rss_bytes: int

    @property
    def peak_rss_mb(self) -> float:
        return self.peak_rss_bytes / (1024 * 1024)


@dataclass(frozen=True, slots=True)
class Usage:
    """Where the machine's CPU went while a measurement ran.

    ``server`` lists the gunicorn workers (and the master, role ``master``);
    ``proxy`` nginx's processes; ``loadgen`` the load generator's processes;
    ``postgres_cpu_seconds`` the database backends serving the benchmark's
    database; ``system_busy_seconds`` every core's busy time, others included.
    """

    wall_seconds: float
    server: tuple[ProcessUsage, ...] = ()
    proxy: tuple[ProcessUsage, ...] = ()
    loadgen: tuple[ProcessUsage, ...] = ()
    postgres_cpu_seconds: float = 0.0
    system_busy_seconds: float = 0.0

    def _cpu(self, processes: Iterable[ProcessUsage]) -> float:
        return sum(p.cpu_seconds for p in processes)

    @property
    def server_cpu_seconds(self) -> float:
        return self._cpu(self.server)

    @property
    def proxy_cpu_seconds(self) -> float:
        return self._cpu(self.proxy)

    @property
    def loadgen_cpu_seconds(self) -> float:
        return self._cpu(self.loadgen)

    @property
    def workers(self) -> tuple[ProcessUsage, ...]:
        return tuple(p for p in self.server if p.role == "worker")

    @property
    def peak_worker_rss_mb(self) -> float:
        return max((p.peak_rss_mb for p in self.workers), default=0.0)

    @property
    def other_cpu_seconds(self) -> float:
        """Busy time nobody in the benchmark accounts for: other people's work."""
        ours = (
            self.server_cpu_seconds
            + self.proxy_cpu_seconds
            + self.loadgen_cpu_seconds
            + self.postgres_cpu_seconds
        )
        return max(0.0, self.system_busy_seconds - ours)

    def percent(self, seconds: float) -> float:
        """CPU seconds as percent of one core over the window (200 % = both cores)."""
        return 100.0 * seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class RunResult:
    """One measurement: a scenario driven against one target for one round."""

    experiment: str
    target: str
    round: int
    driver: str
    users: int
    workers: int
    duration_s: float
    latency: Latency
    usage: Usage
    endpoints: Mapping[str, Latency] = field(default_factory=dict)
    artifacts: Mapping[str, str] = field(default_factory=dict)

    @property
    def server_cpu_ms_per_request(self) -> float:
        """Server CPU (all workers, plus nginx when present) per answered request."""
        if not self.latency.requests:
            return 0.0
        cpu = self.usage.server_cpu_seconds + self.usage.proxy_cpu_seconds
        return 1000.0 * cpu / self.latency.requests

    @property
    def app_cpu_ms_per_request(self) -> float:
        """The application server's CPU alone per request (nginx left out)."""
        if not self.latency.requests:
            return 0.0
        return 1000.0 * self.usage.server_cpu_seconds / self.latency.requests

    @property
    def loadgen_cpu_ms_per_request(self) -> float:
        if not self.latency.requests:
            return 0.0
        return 1000.0 * self.usage.loadgen_cpu_seconds / self.latency.requests

    def metrics(self) -> dict[str, float]:
        """The flat figures reports tabulate, chart and take medians of."""
        usage = self.usage
        return {
            "rps": self.latency.rps,
            "p50_ms": self.latency.p50_ms,
            "p95_ms": self.latency.p95_ms,
            "p99_ms": self.latency.p99_ms,
            "failures": float(self.latency.failures),
            "requests": float(self.latency.requests),
            "server_cpu_ms_per_req": self.server_cpu_ms_per_request,
            "app_cpu_ms_per_req": self.app_cpu_ms_per_request,
            "server_cpu_pct": usage.percent(usage.server_cpu_seconds + usage.proxy_cpu_seconds),
            "loadgen_cpu_pct": usage.percent(usage.loadgen_cpu_seconds),
            "loadgen_cpu_ms_per_req": self.loadgen_cpu_ms_per_request,
            "postgres_cpu_pct": usage.percent(usage.postgres_cpu_seconds),
            "other_cpu_pct": usage.percent(usage.other_cpu_seconds),
            "peak_worker_rss_mb": usage.peak_worker_rss_mb,
        }

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["metrics"] = self.metrics()
        return document


def median(values: Iterable[float]) -> float:
    """The median, or NaN for no values (a missing figure, not a zero)."""
    data = [v for v in values if not math.isnan(v)]
    return statistics.median(data) if data else float("nan")


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, NaN when the denominator is zero or missing."""
    if denominator == 0 or math.isnan(denominator) or math.isnan(numerator):
        return float("nan")
    return numerator / denominator


def paired_ratios(
    results: Sequence[RunResult], *, metric: str, numerator: str, denominator: str
) -> list[float]:
    """Per-round ``numerator/denominator`` of a metric, pairing the targets of each round.

    Interleaved rounds run both targets close together in time, so a per-round
    ratio cancels most of the drift that other load on the machine causes.
    """
    by_round: dict[int, dict[str, float]] = {}
    for result in results:
        by_round.setdefault(result.round, {})[result.target] = result.metrics()[metric]
    ratios = []
    for _, values in sorted(by_round.items()):
        if numerator in values and denominator in values:
            ratios.append(ratio(values[numerator], values[denominator]))
    return ratios


def medians_by_target(results: Iterable[RunResult]) -> dict[str, dict[str, float]]:
    """For each target, the median of every metric over its rounds."""
    grouped: dict[str, list[Mapping[str, float]]] = {}
    for result in results:
        grouped.setdefault(result.target, []).append(result.metrics())
    return {
        target: {key: median(m[key] for m in rows) for key in rows[0]}
        for target, rows in grouped.items()
    }


@dataclass(frozen=True, slots=True)
class Interval:
    """The median of some per-round figures and a confidence interval around it.

    ``low`` and ``high`` are NaN when fewer than two rounds give no spread to
    estimate: one round is a point, not an interval.
    """

    median: float
    low: float
    high: float
    rounds: int
    confidence: float


def bootstrap_interval(
    values: Iterable[float],
    *,
    confidence: float = 0.95,
    resamples: int = 4000,
    seed: int = 17,
) -> Interval:
    """The percentile bootstrap interval of the median of ``values`` (NaNs left out).

    Resamples the rounds with replacement ``resamples`` times and takes the
    median of each; the interval is the middle ``confidence`` of those medians.
    The fixed ``seed`` makes the same rounds give the same interval, so a
    report and its verdict reproduce. With few rounds the interval is close to
    their range: three rounds cannot claim more.
    """
    data = [v for v in values if not math.isnan(v)]
    nan = float("nan")
    if len(data) < 2:
        return Interval(median(data), nan, nan, len(data), confidence)
    draw = random.Random(seed).choices
    medians = sorted(statistics.median(draw(data, k=len(data))) for _ in range(resamples))
    tail = (1.0 - confidence) / 2.0
    low = medians[round(tail * (resamples - 1))]
    high = medians[round((1.0 - tail) * (resamples - 1))]
    return Interval(statistics.median(data), low, high, len(data), confidence)


# Which way is better for each metric a threshold can judge, as a B/A ratio.
HIGHER_IS_BETTER: Mapping[str, bool] = {"rps": True, "server_cpu_ms_per_req": False}


@dataclass(frozen=True, slots=True)
class Judgement:
    """The verdict on one B/A ratio against a threshold.

    ``passed`` is False for a regression and also when the interval is
    missing: a job that measured nothing must not pass.
    """

    metric: str
    interval: Interval
    limit: float
    regressed: bool
    decided: bool

    @property
    def passed(self) -> bool:
        return self.decided and not self.regressed

    @property
    def clear(self) -> bool:
        """A pass with the whole interval on the good side of the limit. A pass
        whose interval reaches past it only failed to prove a regression: the
        rounds spread too much to rule one out."""
        if not self.passed:
            return False
        if HIGHER_IS_BETTER[self.metric]:
            return self.interval.low >= self.limit
        return self.interval.high <= self.limit

    def describe(self) -> str:
        i = self.interval
        bound = "<" if HIGHER_IS_BETTER[self.metric] else ">"
        figures = (
            f"B/A {i.median:.3f}, {i.confidence:.0%} interval [{i.low:.3f}, {i.high:.3f}]"
            f" over {i.rounds} rounds; regression if the whole interval is {bound} {self.limit:.3f}"
        )
        if not self.decided:
            return f"cannot judge (fewer than two paired rounds): {figures}"
        if self.regressed:
            return f"REGRESSION: {figures}"
        if not self.clear:
            return (
                f"pass, within the noise (the interval reaches past the limit: more rounds"
                f" or a quieter machine would decide): {figures}"
            )
        return f"pass: {figures}"


def judge(metric: str, interval: Interval, *, threshold: float) -> Judgement:
    """Whether B regressed on ``metric`` by more than ``threshold`` (0.05 for 5 %).

    Judged on the interval, not the median: for requests/s (higher is better)
    a regression is an interval wholly below ``1 - threshold``; for CPU per
    request (lower is better) one wholly above ``1 + threshold``. An interval
    that straddles the limit is noise, not a regression.

    Raises:
        ValueError: ``metric`` has no known direction, or ``threshold`` is not
            between 0 and 1.
    """
    if metric not in HIGHER_IS_BETTER:
        raise ValueError(f"no direction known for {metric!r}: one of {sorted(HIGHER_IS_BETTER)}")
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be between 0 and 1, not {threshold!r}")
    decided = not (math.isnan(interval.low) or math.isnan(interval.high))
    if HIGHER_IS_BETTER[metric]:
        limit = 1.0 - threshold
        regressed = decided and interval.high < limit
    else:
        limit = 1.0 + threshold
        regressed = decided and interval.low > limit
    return Judgement(metric, interval, limit, regressed, decided)
