"""The report's PNG: one row per experiment, throughput, latency and CPU per request."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .report import Section
from .stats import medians_by_target

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["write_chart"]

PALETTE = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860")
PERCENTILES = (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99"))


def write_chart(path: Path, sections: Sequence[Section], *, title: str) -> Path:
    """Draw every section's medians (bars) and rounds (dots) into one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [s for s in sections if s.results]
    fig, axes = plt.subplots(
        max(1, len(rows)),
        3,
        figsize=(15, 3.6 * max(1, len(rows))),
        squeeze=False,
        constrained_layout=True,
    )
    fig.suptitle(title, fontsize=13)
    for row, section in zip(axes, rows, strict=False):
        _draw(row[0], row[1], row[2], section)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _draw(throughput: Axes, latency: Axes, cpu: Axes, section: Section) -> None:
    targets = section.targets
    medians = medians_by_target(section.results)
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(targets))]
    positions = list(range(len(targets)))
    reference = section.reference or targets[0]
    ratios = section.ratios()

    # Throughput: the median as a bar, each round as a dot, percent of the reference.
    bars = throughput.bar(positions, [medians[t]["rps"] for t in targets], color=colors)
    for index, target in enumerate(targets):
        rounds = [r.metrics()["rps"] for r in section.results if r.target == target]
        throughput.scatter([index] * len(rounds), rounds, color="black", s=12, zorder=3)
        label = "reference" if target == reference else f"{ratios[target]['rps']:.0%} of it"
        bar = bars[index]
        throughput.annotate(
            label,
            (bar.get_x() + bar.get_width() / 2, bar.get_height() / 2),
            ha="center",
            va="center",
            fontsize=8,
            color="white",
            fontweight="bold",
        )
    throughput.set_title(f"{section.title}\nrequests/s (bar: median, dots: rounds)", fontsize=9)

    # Latency: p50, p95 and p99 side by side for each target.
    width = 0.27
    for offset, (key, name) in enumerate(PERCENTILES):
        xs = [p + (offset - 1) * width for p in positions]
        values = [medians[t][key] for t in targets]
        latency.bar(xs, values, width, color=colors, alpha=0.4 + 0.3 * offset)
        for x, value in zip(xs, values, strict=True):
            latency.annotate(name, (x, value), ha="center", va="bottom", fontsize=7)
    latency.set_title("latency ms (median of rounds)", fontsize=9)

    # CPU per request: the server's (with nginx) and the load generator's, stacked.
    server = [medians[t]["server_cpu_ms_per_req"] for t in targets]
    loadgen = [medians[t]["loadgen_cpu_ms_per_req"] for t in targets]
    cpu.bar(positions, server, color=colors, label="server")
    cpu.bar(positions, loadgen, bottom=server, color="#BBBBBB", label="load generator")
    cpu.legend(fontsize=7)
    cpu.set_title("CPU ms per request", fontsize=9)

    for axis in (throughput, latency, cpu):
        axis.set_xticks(positions, targets, fontsize=8)
        axis.grid(axis="y", alpha=0.3)
