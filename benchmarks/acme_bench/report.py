"""Writing a run's report: ``summary.json``, ``report.md`` and ``chart.png``.

Pure standard library but for matplotlib, imported by the chart alone: the unit tests
check the writing without the benchmark extras.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import stats
from .stats import HIGHER_IS_BETTER, Interval, Judgement, RunResult

COLUMNS = (  # (metric, column title, format)
    ("rps", "req/s", "{:.0f}"),
    ("p50_ms", "p50 ms", "{:.1f}"),
    ("p95_ms", "p95 ms", "{:.1f}"),
    ("p99_ms", "p99 ms", "{:.1f}"),
    ("failures", "failed", "{:.0f}"),
    ("server_cpu_ms_per_req", "server CPU ms/req", "{:.2f}"),
    ("server_cpu_pct", "server CPU %", "{:.0f}"),
    ("loadgen_cpu_pct", "load gen CPU %", "{:.0f}"),
    ("postgres_cpu_pct", "PostgreSQL CPU %", "{:.0f}"),
    ("other_cpu_pct", "others' CPU %", "{:.0f}"),
    ("peak_worker_rss_mb", "peak RSS/worker MB", "{:.0f}"),
    ("event_p50_ms", "event p50 ms", "{:.0f}"),
    ("event_p99_ms", "event p99 ms", "{:.0f}"),
)
RATIO_METRICS = ("rps", "p50_ms", "p99_ms", "server_cpu_ms_per_req", "peak_worker_rss_mb")


@dataclass(frozen=True, slots=True)
class Check:
    """A performance target and what the run measured for it."""

    name: str
    goal: str
    value: float
    shown: str
    passed: bool
    detail: str = ""


@dataclass(frozen=True)
class Section:
    """One experiment's part of the report; ratios are to the ``reference`` target's runs."""

    name: str
    title: str
    description: str
    results: Sequence[RunResult]
    reference: str
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def targets(self) -> list[str]:
        return list(dict.fromkeys(result.target for result in self.results))

    def intervals(self) -> dict[str, dict[str, Interval]]:
        """For each other target, each ratio's median over the rounds and its interval."""
        others, ratios = [t for t in self.targets if t != self.reference], stats.paired_ratios
        interval = stats.median_interval
        return {
            t: {m: interval(ratios(self.results, m, t, self.reference)) for m in RATIO_METRICS}
            for t in others
        }

    def noise(self, target: str) -> dict[str, float]:
        """Others' CPU % (of one core) over the runs of ``target`` and the reference:
        the machine's load that the ratio's interval has to absorb."""
        pair = (target, self.reference)
        others = [r.metrics["other_cpu_pct"] for r in self.results if r.target in pair]
        return {"others_cpu_pct_median": stats.median(others), "others_cpu_pct_max": max(others)}


def judge_section(section: Section, *, threshold: float) -> list[Judgement]:
    """The verdict on each judged metric (requests/s, CPU per request) of each other target
    against the reference, ``threshold`` being 0.05 for 5 %."""
    found = section.intervals().values()
    return [stats.judge(m, i[m], threshold=threshold) for i in found for m in HIGHER_IS_BETTER]


def passes(judgements: Sequence[Judgement]) -> bool:
    """Every judgement passed, and there was one (none: B produced no paired rounds)."""
    return bool(judgements) and all(j.passed for j in judgements)


def verdict(judgements: Sequence[Judgement]) -> str:
    """``FAIL``, ``PASS``, or ``PASS, within the noise`` when an interval reached past
    its limit without lying wholly beyond it."""
    if not passes(judgements):
        return "FAIL"
    return "PASS" if all(j.clear for j in judgements) else "PASS, within the noise"


def threshold_checks(judgements: Sequence[Judgement], *, threshold: float) -> list[Check]:
    """The judgements as report targets, so report.md and summary.json carry the verdict."""
    checks = []
    for j in judgements:
        goal = f"not wholly {'below' if HIGHER_IS_BETTER[j.metric] else 'above'} {j.limit:.3f}"
        shown, detail = _with_interval(j.interval), j.describe()
        goal += f" (--fail-above {threshold:.1%})"
        checks.append(Check(f"B/A {j.metric}", goal, j.interval.median, shown, j.passed, detail))
    return checks


def _fmt(value: float, pattern: str) -> str:
    return "n/a" if math.isnan(value) else pattern.format(value)


def _with_interval(interval: Interval) -> str:
    if math.isnan(interval.low):
        return _fmt(interval.median, "{:.3f}")
    return f"{interval.median:.3f} [{interval.low:.3f}, {interval.high:.3f}]"


def _tables(section: Section) -> list[str]:
    medians = stats.medians_by_target(section.results)
    lines = ["| target | " + " | ".join(title for _, title, _ in COLUMNS) + " |"]
    lines.append("|---" * (len(COLUMNS) + 1) + "|")
    for target in section.targets:
        cells = [_fmt(medians[target].get(key, math.nan), form) for key, _, form in COLUMNS]
        lines.append(f"| {target} | {' | '.join(cells)} |")
    if intervals := section.intervals():
        lines.append(
            f"\nB/A ratios to `{section.reference}`: the median of the per-round ratios (rounds "
            "interleaved) [its confidence interval: 95 % or more from 6 rounds, the range below"
            " (benchmarks/README.md)], and others' CPU % (median, max) over the runs compared:\n"
        )
        lines.append("| target | " + " | ".join(RATIO_METRICS) + " | others' CPU % |")
        lines.append("|---" * (len(RATIO_METRICS) + 2) + "|")
    for target, values in intervals.items():
        cells = [_with_interval(values[m]) for m in RATIO_METRICS]
        cells.append(", ".join(_fmt(v, "{:.0f}") for v in section.noise(target).values()))
        lines.append(f"| {target} / {section.reference} | {' | '.join(cells)} |")
    return lines


def _markdown(
    title: str, meta: Mapping[str, Any], checks: Sequence[Check], sections: Sequence[Section]
) -> str:
    """The human report: context first, then the targets, the chart, each experiment."""
    lines = [f"# {title}", "", *(f"- **{key}**: {value}" for key, value in meta.items())]
    if checks:
        lines.append("\n## Targets\n\n| target | goal | measured | verdict |\n|---|---|---|---|")
        for c in checks:
            verdict = "met" if c.passed else "**missed**"
            lines.append(f"| {c.name} | {c.goal} | {c.shown} | {verdict} |")
        details = [f"- {c.name}: {c.detail}" for c in checks if c.detail]
        lines += ["", *details] if details else []
    lines.append("\n![throughput, latency and CPU per request](chart.png)")
    for s in sections:
        lines += ["", f"## {s.title}", "", *([s.description, ""] if s.description else [])]
        lines += [", ".join(f"{k}: {v}" for k, v in s.settings.items()), "", *_tables(s)]
    lines.append(
        "\nFigures are medians over rounds. CPU percentages are of one core (200 % = the machine)."
        " \"others' CPU\" is the machine's busy time nobody in the benchmark accounts for, the"
        " hypervisor's steal included: the noise in the figures.\n"
    )
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    """JSON-ready data: NaN (a missing figure) becomes null."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


def write_report(
    out: Path,
    title: str,
    meta: Mapping[str, Any],
    checks: Sequence[Check],
    sections: Sequence[Section],
) -> tuple[Path, Path]:
    """Write ``summary.json`` (every run's figures, the medians, the ratios' intervals,
    the noise and the targets) and ``report.md`` into ``out``; return their paths."""
    experiments: dict[str, dict[str, Any]] = {}
    for s in sections:
        intervals = {t: {m: asdict(i) for m, i in by.items()} for t, by in s.intervals().items()}
        noise = {target: s.noise(target) for target in intervals}
        medians, runs = stats.medians_by_target(s.results), [asdict(r) for r in s.results]
        experiments[s.name] = {"title": s.title, "settings": s.settings, "reference": s.reference}
        experiments[s.name] |= {
            "medians": medians,
            "intervals": intervals,
            "noise": noise,
            "runs": runs,
        }
    document = {"meta": meta, "targets": [asdict(c) for c in checks], "experiments": experiments}
    summary, markdown = out / "summary.json", out / "report.md"
    summary.write_text(json.dumps(_plain(document), indent=2, allow_nan=False) + "\n")
    markdown.write_text(_markdown(title, meta, checks, sections))
    return summary, markdown


def write_chart(path: Path, sections: Sequence[Section], *, title: str) -> None:
    """Draw every section's medians (bars) and rounds (dots) into one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [s for s in sections if s.results] or sections[:1]
    fig, axes = plt.subplots(len(rows), 3, figsize=(15, 3.6 * len(rows)), squeeze=False)
    fig.suptitle(title, fontsize=13)
    for (throughput, latency, cpu), section in zip(axes, rows, strict=True):
        targets, xs = section.targets, range(len(section.targets))
        medians, intervals = stats.medians_by_target(section.results), section.intervals()
        colors = [f"C{x}" for x in xs]
        # Throughput: the median as a bar, each round as a dot, the ratio to the reference.
        bars = throughput.bar(xs, [medians[t]["rps"] for t in targets], color=colors)
        for x, target, bar in zip(xs, targets, bars, strict=True):
            rounds = [r.metrics["rps"] for r in section.results if r.target == target]
            throughput.scatter([x] * len(rounds), rounds, color="black", s=12, zorder=3)
            ratio = f"{intervals[target]['rps'].median:.0%}" if target in intervals else "100%"
            throughput.annotate(ratio, (x, bar.get_height() / 2), ha="center", color="white")
        throughput.set_title(f"{section.title}\nrequests/s (bar: median, dots: rounds)", fontsize=9)
        for offset, key in enumerate(("p50_ms", "p95_ms", "p99_ms")):
            shifted = [x + (offset - 1) * 0.27 for x in xs]
            latency.bar(shifted, [medians[t][key] for t in targets], 0.27, label=key[:3])
        latency.legend(fontsize=7)
        latency.set_title("latency ms (median of rounds)", fontsize=9)
        server = [medians[t]["server_cpu_ms_per_req"] for t in targets]
        cpu.bar(xs, server, color=colors, label="server")
        loadgen = [medians[t]["loadgen_cpu_ms_per_req"] for t in targets]
        cpu.bar(xs, loadgen, bottom=server, color="#BBBBBB", label="load generator")
        cpu.legend(fontsize=7)
        cpu.set_title("CPU ms per request (server and load generator)", fontsize=9)
        for axis in (throughput, latency, cpu):
            axis.set_xticks(xs, targets, fontsize=8)
            axis.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
