"""Writing a run's report: ``summary.json`` and ``report.md`` (the chart is chart.py's).

Pure standard library, so the unit tests check the writing without the extras.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .stats import (
    HIGHER_IS_BETTER,
    Interval,
    Judgement,
    RunResult,
    bootstrap_interval,
    judge,
    median,
    medians_by_target,
    paired_ratios,
)

__all__ = [
    "Check",
    "Section",
    "judge_section",
    "passes",
    "render_markdown",
    "summary_document",
    "threshold_checks",
    "verdict",
    "write_report",
]

COLUMNS: tuple[tuple[str, str, str], ...] = (
    # (metric key, column title, format)
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
    """One experiment's part of the report."""

    name: str
    title: str
    description: str
    results: Sequence[RunResult]
    reference: str = ""
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def targets(self) -> list[str]:
        seen: list[str] = []
        for result in self.results:
            if result.target not in seen:
                seen.append(result.target)
        return seen

    @property
    def reference_target(self) -> str:
        return self.reference or (self.targets[0] if self.targets else "")

    def ratios(self) -> dict[str, dict[str, float]]:
        """For each non-reference target, the median per-round ratio to the reference."""
        return {
            target: {metric: interval.median for metric, interval in by_metric.items()}
            for target, by_metric in self.intervals().items()
        }

    def intervals(self) -> dict[str, dict[str, Interval]]:
        """For each non-reference target, each ratio's median and 95 % bootstrap
        interval over the per-round ratios to the reference."""
        reference = self.reference_target
        return {
            target: {
                metric: bootstrap_interval(
                    paired_ratios(
                        self.results, metric=metric, numerator=target, denominator=reference
                    )
                )
                for metric in RATIO_METRICS
            }
            for target in self.targets
            if target != reference
        }

    def noise(self, target: str) -> dict[str, float]:
        """Others' CPU % (of one core) over the runs of ``target`` and the reference:
        the machine's load that the ratio's interval has to absorb."""
        others = [
            r.metrics()["other_cpu_pct"]
            for r in self.results
            if r.target in (target, self.reference_target)
        ]
        return {
            "others_cpu_pct_median": median(others),
            "others_cpu_pct_max": max(others, default=float("nan")),
        }


def judge_section(section: Section, *, threshold: float) -> list[Judgement]:
    """The verdict on every judged metric (requests/s, CPU per request) of each
    non-reference target against the reference, ``threshold`` being 0.05 for 5 %."""
    return [
        judge(metric, by_metric[metric], threshold=threshold)
        for by_metric in section.intervals().values()
        for metric in HIGHER_IS_BETTER
    ]


def passes(judgements: Sequence[Judgement]) -> bool:
    """Whether a comparison passes its threshold: every judgement passed, and there
    was at least one (none means B produced no paired rounds, which must not pass)."""
    return bool(judgements) and all(j.passed for j in judgements)


def verdict(judgements: Sequence[Judgement]) -> str:
    """``FAIL``, ``PASS``, or ``PASS, within the noise`` when some interval reached
    past its limit without lying wholly beyond it."""
    if not passes(judgements):
        return "FAIL"
    return "PASS" if all(j.clear for j in judgements) else "PASS, within the noise"


def threshold_checks(judgements: Sequence[Judgement], *, threshold: float) -> list[Check]:
    """The judgements as report targets, so report.md and summary.json carry the verdict."""
    checks = []
    for j in judgements:
        worse = "below" if HIGHER_IS_BETTER[j.metric] else "above"
        shown = _with_interval(j.interval) if j.decided else f"{_fmt(j.interval.median, '{:.3f}')}"
        checks.append(
            Check(
                name=f"B/A {j.metric}",
                goal=f"not wholly {worse} {j.limit:.3f} (--fail-above {threshold:.1%})",
                value=j.interval.median,
                shown=shown,
                passed=j.passed,
                detail=j.describe(),
            )
        )
    return checks


def _fmt(value: float, pattern: str) -> str:
    return "n/a" if math.isnan(value) else pattern.format(value)


def _table(section: Section) -> list[str]:
    medians = medians_by_target(section.results)
    header = "| target | " + " | ".join(title for _, title, _ in COLUMNS) + " |"
    lines = [header, "|---" * (len(COLUMNS) + 1) + "|"]
    for target in section.targets:
        row = medians[target]
        cells = " | ".join(_fmt(row[key], pattern) for key, _, pattern in COLUMNS)
        lines.append(f"| {target} | {cells} |")
    return lines


def _with_interval(interval: Interval) -> str:
    if math.isnan(interval.low):
        return _fmt(interval.median, "{:.3f}")
    return f"{interval.median:.3f} [{interval.low:.3f}, {interval.high:.3f}]"


def _ratio_table(section: Section) -> list[str]:
    intervals = section.intervals()
    if not intervals:
        return []
    reference = section.reference_target
    lines = [
        "",
        f"B/A ratios to `{reference}`: the median of the per-round ratios (rounds "
        "interleaved) [its 95 % percentile bootstrap interval], and others' CPU % "
        "(median, max) over the runs compared:",
        "",
        "| target | " + " | ".join(RATIO_METRICS) + " | others' CPU % |",
        "|---" * (len(RATIO_METRICS) + 2) + "|",
    ]
    for target, values in intervals.items():
        cells = " | ".join(_with_interval(values[m]) for m in RATIO_METRICS)
        noise = section.noise(target)
        others = (
            f"{_fmt(noise['others_cpu_pct_median'], '{:.0f}')}, "
            f"{_fmt(noise['others_cpu_pct_max'], '{:.0f}')}"
        )
        lines.append(f"| {target} / {reference} | {cells} | {others} |")
    return lines


def render_markdown(
    *,
    title: str,
    meta: Mapping[str, Any],
    checks: Sequence[Check],
    sections: Sequence[Section],
    chart: str | None = "chart.png",
) -> str:
    """The human report: context first, then the targets, then each experiment."""
    lines = [f"# {title}", ""]
    for key, value in meta.items():
        lines.append(f"- **{key}**: {value}")
    if checks:
        lines += [
            "",
            "## Targets",
            "",
            "| target | goal | measured | verdict |",
            "|---|---|---|---|",
        ]
        for check in checks:
            verdict = "met" if check.passed else "**missed**"
            lines.append(f"| {check.name} | {check.goal} | {check.shown} | {verdict} |")
        details = [c for c in checks if c.detail]
        if details:
            lines.append("")
            lines += [f"- {c.name}: {c.detail}" for c in details]
    if chart:
        lines += ["", f"![throughput, latency and CPU per request]({chart})"]
    for section in sections:
        lines += ["", f"## {section.title}", ""]
        if section.description:
            lines += [section.description, ""]
        if section.settings:
            lines.append(", ".join(f"{k}: {v}" for k, v in section.settings.items()))
            lines.append("")
        lines += _table(section)
        lines += _ratio_table(section)
    lines += [
        "",
        "Figures are medians over rounds. CPU percentages are of one core (200 % = the "
        "machine). \"others' CPU\" is the machine's busy time nobody in the benchmark "
        "accounts for: the noise in the figures.",
        "",
    ]
    return "\n".join(lines)


def summary_document(
    *,
    meta: Mapping[str, Any],
    checks: Sequence[Check],
    sections: Sequence[Section],
) -> dict[str, Any]:
    """The machine-readable summary: every run's figures, medians, ratios and targets."""
    return {
        "meta": dict(meta),
        "targets": [asdict(c) for c in checks],
        "experiments": {
            s.name: {
                "title": s.title,
                "settings": dict(s.settings),
                "reference": s.reference_target,
                "medians": medians_by_target(s.results),
                "ratios": s.ratios(),
                "intervals": {
                    target: {metric: asdict(i) for metric, i in by_metric.items()}
                    for target, by_metric in s.intervals().items()
                },
                "noise": {target: s.noise(target) for target in s.intervals()},
                "runs": [r.to_json() for r in s.results],
            }
            for s in sections
        },
    }


def _plain(value: Any) -> Any:
    """JSON-ready data: NaN (a missing figure) becomes null, paths become strings."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def write_report(
    out_dir: Path,
    *,
    title: str,
    meta: Mapping[str, Any],
    checks: Sequence[Check],
    sections: Sequence[Section],
    chart: str | None = "chart.png",
) -> tuple[Path, Path]:
    """Write ``summary.json`` and ``report.md`` into ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = out_dir / "summary.json"
    document = summary_document(meta=meta, checks=checks, sections=sections)
    summary.write_text(json.dumps(_plain(document), indent=2, allow_nan=False) + "\n")
    markdown = out_dir / "report.md"
    markdown.write_text(
        render_markdown(title=title, meta=meta, checks=checks, sections=sections, chart=chart)
    )
    return summary, markdown
