"""The runner's commands: each sets up a database, runs experiments, writes a report."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import context, plans
from .database import DEFAULT_ADMIN_URL, BenchDatabase, DatabaseError
from .dataset import DataFiles, health_files
from .drivers import DriverError
from .engine import Experiment, run_experiment
from .report import Check, Section, write_report
from .stack import StackError

__all__ = ["BenchError", "admin_url", "cmd_report", "finish", "provision", "run_sections"]

CURRENT_BIN = Path(sys.executable).parent


class BenchError(RuntimeError):
    """A benchmark could not run; the message says why."""


def admin_url(args: argparse.Namespace) -> str:
    return str(args.admin_url or os.environ.get("ACME_BENCH_ADMIN_URL") or DEFAULT_ADMIN_URL)


def provision(
    database: BenchDatabase,
    *,
    bin_dir: Path,
    size: str,
    scenario: str,
    directory: Path,
    env: dict[str, str],
) -> DataFiles:
    """Seed a migrated database for a scenario and write its tokens and request lists."""
    del database, bin_dir, size, scenario, env
    return health_files(directory)


def run_sections(
    experiments: Sequence[Experiment], *, run_dir: Path, server_env: dict[str, str]
) -> list[Section]:
    """Run experiments one after the other; a section of the report for each."""
    sections = []
    for experiment in experiments:
        print(
            f"\n== {experiment.title} ({experiment.rounds} round(s), {experiment.driver},"
            f" {experiment.load.users} users, {experiment.load.duration_s:g}s each)"
        )
        try:
            results = run_experiment(experiment, run_dir=run_dir, server_env=server_env)
        except (DriverError, StackError) as exc:
            raise BenchError(f"{experiment.name}: {exc}") from exc
        sections.append(
            Section(
                name=experiment.name,
                title=experiment.title,
                description=plans.DESCRIPTIONS.get(experiment.name, ""),
                results=results,
                reference=experiment.targets[0].name,
                settings={
                    "driver": experiment.driver,
                    "scenario": Path(experiment.load.scenario).name,
                    "users": experiment.load.users,
                    "duration": f"{experiment.load.duration_s:g}s",
                    "rounds": experiment.rounds,
                    "workers": experiment.workers,
                    "nginx": any(t.nginx for t in experiment.targets),
                },
            )
        )
    return sections


def finish(
    run_dir: Path,
    *,
    title: str,
    meta: dict[str, Any],
    checks: Sequence[Check],
    sections: Sequence[Section],
    started: float,
) -> None:
    """Write summary.json, report.md and chart.png, and say where they are."""
    from .chart import write_chart

    meta["load after"] = f"{context.load_average()}; busiest: {context.busy_processes()}"
    meta["wall time"] = f"{time.monotonic() - started:.0f}s"
    write_chart(run_dir / "chart.png", sections, title=title)
    summary, markdown = write_report(
        run_dir, title=title, meta=meta, checks=checks, sections=sections
    )
    print(f"\nreport: {markdown}\nsummary: {summary}\nchart: {run_dir / 'chart.png'}")
    for check in checks:
        print(
            f"  {'met   ' if check.passed else 'MISSED'} {check.name}: {check.shown}"
            f" (goal {check.goal})"
        )


def cmd_report(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    """Measure the current tree: every experiment, the targets, the report."""
    started = time.monotonic()
    run_dir = context.new_run_dir("report", args.out)
    meta = context.base_meta(argv, {"run directory": str(run_dir)})
    print(f"acme benchmark report -> {run_dir}")
    try:
        database = BenchDatabase.create(admin_url(args), label="report")
    except DatabaseError as exc:
        raise BenchError(str(exc)) from exc
    try:
        server_env = plans.server_env(database)
        print(f"database {database.name}: migrating")
        database.migrate(CURRENT_BIN, server_env)
        experiments = plans.report_experiments(
            args, bin_dir=CURRENT_BIN, database=database, run_dir=run_dir
        )
        sections = run_sections(experiments, run_dir=run_dir, server_env=server_env)
        checks = plans.evaluate(sections)
    except DatabaseError as exc:
        raise BenchError(str(exc)) from exc
    finally:
        if not args.keep_db:
            database.drop()
    finish(
        run_dir,
        title="acme API benchmark",
        meta=meta,
        checks=checks,
        sections=sections,
        started=started,
    )
    return 0
