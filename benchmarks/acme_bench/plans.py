"""What the report measures: the experiments, the server settings and the targets."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

from .database import BenchDatabase
from .dataset import DataFiles
from .drivers import Load
from .engine import Experiment
from .report import Check, Section
from .stack import AppTarget

__all__ = [
    "DESCRIPTIONS",
    "DataFiles",
    "ExperimentBuilder",
    "evaluate",
    "floor_target",
    "report_experiments",
    "server_env",
]

ExperimentBuilder = Callable[[BenchDatabase, DataFiles], "Experiment"]

DESCRIPTIONS = {
    "health": "`GET /health/live` straight to gunicorn and through nginx: the fixed cost "
    "of the stack for a request that does nothing.",
}


def server_env(database: BenchDatabase) -> dict[str, str]:
    """The API's environment: production settings on the benchmark database."""
    return {
        "ACME_ENV": "production",
        "ACME_SECRETS": "env",
        "ACME_DATABASE_URL": database.sqlalchemy_url,
        "ACME_LOG_LEVEL": "INFO",
    }


def floor_target(
    bin_dir: Path, database: BenchDatabase, *, name: str = "floor", workers: int | None = None
) -> AppTarget:
    """The floor app (bare ASGI on raw asyncpg) served by the same gunicorn."""
    return AppTarget(
        name, bin_dir, app_uri="acme_bench.floor:app", database=database.name, workers=workers
    )


def report_experiments(
    args: argparse.Namespace, *, bin_dir: Path, database: BenchDatabase, run_dir: Path
) -> list[Experiment]:
    """The experiments of ``report``, in the order they run."""
    del run_dir
    load = Load(
        scenario="Health",
        users=args.users,
        spawn_rate=args.spawn_rate,
        duration_s=args.duration,
        processes=args.processes,
    )
    api = AppTarget("api", bin_dir, database=database.name)
    return [
        Experiment(
            name="health",
            title="Stack overhead: liveness, direct and through nginx",
            targets=[api, AppTarget("api-nginx", bin_dir, nginx=True, database=database.name)],
            load=load,
            rounds=args.rounds,
            warmup_s=args.warmup,
            workers=args.workers,
        )
    ]


def evaluate(sections: Sequence[Section]) -> list[Check]:
    """The performance targets, judged on the sections that measure them."""
    del sections
    return []
