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
from .provision import DEFAULT_ACCOUNTS, issue_accounts, new_keys, seed_database, server_env
from .report import Check, Section, write_report
from .seeding import parse_size
from .stack import StackError
from .tokens import TokenError

__all__ = [
    "BenchError",
    "admin_url",
    "cmd_report",
    "finish",
    "keys_for_run",
    "migrated",
    "provision",
    "run_sections",
]

CURRENT_BIN = Path(sys.executable).parent


class BenchError(RuntimeError):
    """A benchmark could not run; the message says why."""


def admin_url(args: argparse.Namespace) -> str:
    return str(args.admin_url or os.environ.get("ACME_BENCH_ADMIN_URL") or DEFAULT_ADMIN_URL)


HEALTH_SCENARIOS = {"Health", "health"}


def provision(
    database: BenchDatabase,
    *,
    bin_dir: Path,
    size: str,
    scenario: str,
    directory: Path,
    env: dict[str, str],
    accounts: int = DEFAULT_ACCOUNTS,
) -> DataFiles:
    """Accounts, tokens and items for a migrated database, and the files scenarios read.

    Raises:
        BenchError: the size is malformed, or tokens could not be issued.
    """
    if scenario in HEALTH_SCENARIOS:
        return health_files(directory)
    try:
        items = parse_size(size)
        tokens = issue_accounts(bin_dir, env, directory=directory, accounts=accounts)
        return seed_database(database, tokens_file=tokens, size=items, directory=directory)
    except (ValueError, TokenError) as exc:
        raise BenchError(str(exc)) from exc


def keys_for_run() -> str:
    """Fresh signing keys, shared by every server and token of the run."""
    try:
        return new_keys(CURRENT_BIN)
    except TokenError as exc:
        raise BenchError(str(exc)) from exc


def migrated(database: BenchDatabase, bin_dir: Path, env: dict[str, str]) -> None:
    print(f"database {database.name}: migrating")
    try:
        database.migrate(bin_dir, env)
    except DatabaseError as exc:
        raise BenchError(str(exc)) from exc


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
        except (DriverError, StackError, plans.TargetCheckError) as exc:
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


def _report_data(args: argparse.Namespace, run_dir: Path, keys: str) -> plans.ReportData:
    """The small database and, unless skipped, a large copy of it, both seeded.

    The large one is cloned from the small one once its accounts exist, so
    the same tokens serve both and are issued once. The floor gets a copy of
    the seeded small one: its writes add outbox rows too, and in a shared
    database the API's relay (idle, but up for the whole experiment) would
    publish them while the floor is measured, charging the floor for work
    of the API's.
    """
    databases: list[BenchDatabase] = [BenchDatabase.create(admin_url(args), label="report")]
    try:
        small = databases[0]
        env = server_env(small, keys=keys)
        migrated(small, CURRENT_BIN, env)
        try:
            small_size = parse_size(args.size)
            large_size = 0 if args.deep_size.lower() == "skip" else parse_size(args.deep_size)
            tokens = issue_accounts(
                CURRENT_BIN, env, directory=run_dir / "data-small", accounts=args.accounts
            )
        except (ValueError, TokenError) as exc:
            raise BenchError(str(exc)) from exc
        large = None
        if large_size:
            large = small.clone(label="report_large")
            databases.append(large)
        small_files = seed_database(
            small, tokens_file=tokens, size=small_size, directory=run_dir / "data-small"
        )
        floor = small.clone(label="report_floor")
        databases.append(floor)
        if large is None:
            return plans.ReportData(small, small_files, floor=floor)
        large_files = seed_database(
            large, tokens_file=tokens, size=large_size, directory=run_dir / "data-large"
        )
        return plans.ReportData(small, small_files, large, large_files, floor=floor)
    except BaseException:
        if not args.keep_db:
            for database in databases:
                database.drop()
        raise


def cmd_report(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    """Measure the current tree: every experiment, the targets, the report."""
    started = time.monotonic()
    run_dir = context.new_run_dir("report", args.out)
    meta = context.base_meta(argv, {"run directory": str(run_dir)})
    print(f"acme benchmark report -> {run_dir}")
    keys = keys_for_run()
    try:
        data = _report_data(args, run_dir, keys)
    except DatabaseError as exc:
        raise BenchError(str(exc)) from exc
    try:
        experiments = plans.report_experiments(args, bin_dir=CURRENT_BIN, data=data)
        sections = run_sections(
            experiments, run_dir=run_dir, server_env=server_env(data.small, keys=keys)
        )
        checks = plans.evaluate(sections)
    except ValueError as exc:
        raise BenchError(str(exc)) from exc
    finally:
        if not args.keep_db:
            for database in (data.small, data.large, data.floor):
                if database is not None:
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
