"""Writing summary.json and report.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from acme_bench.report import Check, Section, write_report
from acme_bench.stats import Latency, ProcessUsage, RunResult, Usage


def run(target: str, round_: int, rps: float, p99: float) -> RunResult:
    usage = Usage(
        wall_seconds=20.0,
        server=(ProcessUsage(2, "worker", 10.0, 100 * 2**20),),
        loadgen=(ProcessUsage(0, "loadgen", 5.0, 50 * 2**20),),
        system_busy_seconds=30.0,
    )
    latency = Latency(int(rps * 20), 0, rps, p99 / 3, p99 / 2, p99, p99 / 3)
    return RunResult("seed", target, round_, "locust", 32, 1, 20.0, latency, usage)


def test_report_has_the_targets_the_medians_and_the_ratios(tmp_path: Path) -> None:
    section = Section(
        name="seed",
        title="Seed workload against the floor",
        description="filter by order and create, 50/50",
        results=[
            run("floor", 1, 1000.0, 9.0),
            run("api", 1, 650.0, 18.0),
            run("api", 2, 700.0, 21.0),
            run("floor", 2, 1000.0, 10.0),
        ],
        reference="floor",
        settings={"users": 32},
    )
    checks = [Check("throughput vs floor", ">= 60 %", 0.675, "67.5 %", True, "interleaved")]
    meta = {"command": "`python -m acme_bench report`", "load before": "0.10"}
    summary_path, markdown_path = write_report(
        tmp_path, title="acme API benchmark", meta=meta, checks=checks, sections=[section]
    )

    markdown = markdown_path.read_text()
    assert markdown.startswith("# acme API benchmark")
    assert "| throughput vs floor | >= 60 % | 67.5 % | met |" in markdown
    assert "| floor | 1000 |" in markdown
    assert "| api | 675 |" in markdown  # median of 650 and 700
    assert "| api / floor | 0.675 |" in markdown  # median of per-round ratios 0.65, 0.70
    assert "![throughput, latency and CPU per request](chart.png)" in markdown

    summary = json.loads(summary_path.read_text())
    experiment = summary["experiments"]["seed"]
    assert experiment["reference"] == "floor"
    assert experiment["ratios"]["api"]["rps"] == 0.675
    assert experiment["ratios"]["api"]["p99_ms"] == pytest.approx(2.05)  # 18/9 and 21/10
    assert len(experiment["runs"]) == 4
    assert summary["targets"][0]["passed"] is True


def test_missing_figures_are_null_in_json_and_na_in_markdown(tmp_path: Path) -> None:
    empty = RunResult(
        "seed",
        "api",
        1,
        "locust",
        32,
        1,
        20.0,
        Latency(0, 0, 0.0, float("nan"), float("nan"), float("nan"), float("nan")),
        Usage(wall_seconds=20.0),
    )
    section = Section(name="seed", title="Nothing answered", description="", results=[empty])
    summary_path, markdown_path = write_report(
        tmp_path, title="t", meta={}, checks=[], sections=[section], chart=None
    )
    run_json = json.loads(summary_path.read_text())["experiments"]["seed"]["runs"][0]
    assert run_json["latency"]["p99_ms"] is None
    assert "| api | 0 | n/a | n/a | n/a |" in markdown_path.read_text()
