"""``sweep`` (worker counts) and ``wrk`` (saturation with the light driver)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from . import context, plans
from .commands import (
    CURRENT_BIN,
    BenchError,
    admin_url,
    finish,
    keys_for_run,
    migrated,
    provision,
    run_sections,
)
from .database import BenchDatabase, DatabaseError
from .drivers import Load
from .engine import Experiment
from .provision import server_env
from .stack import AppTarget

__all__ = ["cmd_sweep", "cmd_wrk"]


def _single_database_run(
    args: argparse.Namespace,
    argv: Sequence[str] | None,
    *,
    kind: str,
    title: str,
    build: plans.ExperimentBuilder,
) -> int:
    started = time.monotonic()
    run_dir = context.new_run_dir(kind, args.out)
    print(f"acme benchmark {kind} -> {run_dir}")
    meta = context.base_meta(argv, {"run directory": str(run_dir)})
    keys = keys_for_run()
    try:
        database = BenchDatabase.create(admin_url(args), label=kind)
    except DatabaseError as exc:
        raise BenchError(str(exc)) from exc
    floor_database: BenchDatabase | None = None
    try:
        env = server_env(database, keys=keys)
        migrated(database, CURRENT_BIN, env)
        data = provision(
            database,
            bin_dir=CURRENT_BIN,
            size=args.size,
            scenario=args.scenario,
            directory=run_dir / "data",
            env=env,
            accounts=args.accounts,
        )
        # The floor writes outbox rows too: on a database of its own, the API's
        # relay never publishes them (see commands._report_data).
        floor_database = database.clone(label=f"{kind}_floor") if args.floor else None
        experiment = build(database, data, floor_database or database)
        sections = run_sections([experiment], run_dir=run_dir, server_env=env)
    except DatabaseError as exc:
        raise BenchError(str(exc)) from exc
    finally:
        if not args.keep_db:
            database.drop()
            if floor_database is not None:
                floor_database.drop()
    finish(run_dir, title=title, meta=meta, checks=[], sections=sections, started=started)
    return 0


def cmd_sweep(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    """The same scenario at 1, 2, 4 gunicorn workers (and the floor's), interleaved."""

    def build(
        database: BenchDatabase, data: plans.DataFiles, floor_database: BenchDatabase
    ) -> Experiment:
        targets = []
        for count in args.worker_counts:
            if args.floor:
                targets.append(
                    plans.floor_target(
                        CURRENT_BIN, floor_database, name=f"floor-{count}w", workers=count
                    )
                )
            targets.append(
                AppTarget(
                    f"api-{count}w",
                    CURRENT_BIN,
                    nginx=args.nginx,
                    database=database.name,
                    workers=count,
                )
            )
        load = Load(
            scenario=args.scenario,
            users=args.users,
            spawn_rate=args.spawn_rate,
            duration_s=args.duration,
            processes=args.processes,
        )
        return Experiment(
            name="sweep",
            title=f"{args.scenario} by gunicorn worker count",
            targets=targets,
            load=load,
            driver=args.driver,
            rounds=args.rounds,
            warmup_s=args.warmup,
            data={t.name: data for t in targets},
            # Each worker keeps its own pool: 1 + 2 + 4 workers of the API and
            # of the floor, all up at once, would ask PostgreSQL for 280
            # connections (its default max_connections is 100).
            keep_up=False,
        )

    return _single_database_run(
        args, argv, kind="sweep", title="acme API: worker sweep", build=build
    )


def cmd_wrk(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    """A saturation run with wrk, optionally against the floor too."""

    def build(
        database: BenchDatabase, data: plans.DataFiles, floor_database: BenchDatabase
    ) -> Experiment:
        targets = [AppTarget("api", CURRENT_BIN, nginx=args.nginx, database=database.name)]
        if args.floor:
            targets.insert(0, plans.floor_target(CURRENT_BIN, floor_database))
        load = Load(
            scenario=args.scenario,
            users=args.users,
            duration_s=args.duration,
            wrk_threads=args.threads,
        )
        return Experiment(
            name=f"wrk-{args.scenario}",
            title=f"wrk saturation: {args.scenario}",
            targets=targets,
            load=load,
            driver="wrk",
            rounds=args.rounds,
            warmup_s=args.warmup,
            workers=args.workers,
            data={t.name: data for t in targets},
        )

    return _single_database_run(
        args, argv, kind="wrk", title="acme API: wrk saturation", build=build
    )
