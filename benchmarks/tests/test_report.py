"""Writing summary.json and report.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from acme_bench.report import (
    Check,
    Section,
    judge_section,
    passes,
    threshold_checks,
    verdict,
    write_report,
)
from acme_bench.stats import RunResult, figures


def run(target: str, round_: int, rps: float, p99: float) -> RunResult:
    # 10 s of server CPU whatever the throughput: a slower run costs more per request.
    latency = {"requests": rps * 20, "failures": 0, "rps": rps, "p50_ms": p99 / 3}
    latency |= {"p95_ms": p99 / 2, "p99_ms": p99}
    usage = {"server": 10.0, "proxy": 0.0, "loadgen": 5.0, "postgres": 0.0, "others": 15.0}
    usage |= {"wall": 20.0, "peak_worker_rss_mb": 100.0}
    return RunResult(target, round_, figures(latency, usage))


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
    # median of per-round ratios 0.65, 0.70, their interval (the range of two), others' CPU %
    assert "| api / floor | 0.675 [0.650, 0.700] |" in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| api / floor"))
    assert row.endswith("| 1.000 [1.000, 1.000] | 75, 75 |")  # same memory; 15 s of 20 others'

    assert "![throughput, latency and CPU per request](chart.png)" in markdown

    summary = json.loads(summary_path.read_text())
    experiment = summary["experiments"]["seed"]
    assert experiment["reference"] == "floor"
    assert experiment["intervals"]["api"]["p99_ms"]["median"] == pytest.approx(2.05)  # 18/9, 21/10
    assert experiment["intervals"]["api"]["rps"] == {
        "median": 0.675,
        "low": 0.65,
        "high": 0.7,
        "rounds": 2,
        "confidence": 0.5,  # two rounds: their range, half the time around the true median
    }
    assert experiment["noise"]["api"] == {"others_cpu_pct_median": 75.0, "others_cpu_pct_max": 75.0}
    assert len(experiment["runs"]) == 4
    assert experiment["runs"][0]["metrics"]["rps"] == 1000.0
    assert summary["targets"][0]["passed"] is True


def test_missing_figures_are_null_in_json_and_na_in_markdown(tmp_path: Path) -> None:
    empty = run("api", 1, 0.0, float("nan"))
    section = Section("seed", "Nothing answered", "", [empty], "api")
    summary_path, markdown_path = write_report(
        tmp_path, title="t", meta={}, checks=[], sections=[section]
    )
    run_json = json.loads(summary_path.read_text())["experiments"]["seed"]["runs"][0]
    assert run_json["metrics"]["p99_ms"] is None
    assert run_json["metrics"]["server_cpu_ms_per_req"] is None  # no requests: no cost per one
    assert "| api | 0 | n/a | n/a | n/a |" in markdown_path.read_text()


# Synthetic interleaved rounds (A B, B A, ...): the machine's speed drifts
# from round to round by up to 30 %, hitting both builds of a round alike.
DRIFT = (1.0, 0.7, 0.9, 1.1, 0.8)


def rounds(slowdown: float, *, jitter: float = 0.02) -> Section:
    results = []
    for round_, speed in enumerate(DRIFT, start=1):
        wobble = 1 + jitter * (-1) ** round_  # within-round noise, either way
        results += [
            run("A", round_, 1000.0 * speed, 20.0),
            run("B", round_, 1000.0 * speed * wobble / (1 + slowdown), 20.0),
        ]
    return Section("compare", "B against A", "", results, "A")


def test_a_build_against_itself_passes_through_the_drift() -> None:
    judgements = judge_section(rounds(0.0), threshold=0.05)
    assert [j.metric for j in judgements] == ["rps", "server_cpu_ms_per_req"]
    assert all(j.decided and j.passed and j.clear for j in judgements)
    assert passes(judgements)
    assert verdict(judgements) == "PASS"


def test_a_comparison_with_no_paired_rounds_does_not_pass() -> None:
    only_a = Section("compare", "t", "", [run("A", 1, 900.0, 20.0)], "A")
    assert judge_section(only_a, threshold=0.05) == []
    assert not passes([])
    assert verdict([]) == "FAIL"


def test_a_twenty_percent_slowdown_fails_on_throughput_and_cpu() -> None:
    judgements = judge_section(rounds(0.20), threshold=0.05)
    assert all(j.regressed for j in judgements)
    assert not passes(judgements)
    assert not passes(judgements[1:])
    assert verdict(judgements) == "FAIL"
    rps = judgements[0].interval
    assert rps.high < 0.95
    assert rps.low > 0.8


def test_a_slowdown_inside_the_noise_is_not_called_a_regression() -> None:
    # 6 % slower on average but rounds spread 0.87-1.01: the interval reaches past 0.95.
    judgements = judge_section(rounds(0.06, jitter=0.07), threshold=0.05)
    assert not any(j.regressed for j in judgements)
    assert judgements[0].interval.high > 0.95
    assert not judgements[0].clear  # a pass that says the rounds could not decide
    assert verdict(judgements) == "PASS, within the noise"


def test_the_verdict_is_in_the_report_and_the_summary(tmp_path: Path) -> None:
    section = rounds(0.20)
    judgements = judge_section(section, threshold=0.05)
    checks = threshold_checks(judgements, threshold=0.05)
    summary_path, markdown_path = write_report(
        tmp_path, title="t", meta={}, checks=checks, sections=[section]
    )
    markdown = markdown_path.read_text()
    # rounds alternate 0.98/1.2 and 1.02/1.2: three of one, two of the other
    row = "| B/A rps | not wholly below 0.950 (--fail-above 5.0%) | 0.817 [0.817, 0.850] |"
    assert row in markdown
    assert "- B/A rps: REGRESSION: B/A 0.817, 94% interval [0.817, 0.850] over 5 rounds" in markdown
    assert "| B/A server_cpu_ms_per_req | not wholly above 1.050" in markdown
    assert markdown.count("**missed**") == 2
    targets = json.loads(summary_path.read_text())["targets"]
    assert [t["passed"] for t in targets] == [False, False]
