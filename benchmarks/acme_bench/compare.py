"""``compare``: two versions of the wheels, A/B interleaved, medians and B/A ratios."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

from . import context
from .commands import BenchError, admin_url, finish, keys_for_run, migrated, provision, run_sections
from .database import BenchDatabase, DatabaseError
from .dataset import DataFiles
from .drivers import Load
from .engine import Experiment
from .provision import server_env
from .report import Section, judge_section, passes, threshold_checks, verdict
from .stack import AppTarget
from .stats import Judgement
from .versions import VersionError, prepare_version

if TYPE_CHECKING:
    from stackkit import PgBouncer

__all__ = ["cmd_compare"]


def cmd_compare(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    """Install A and B, give each a seeded database, run the scenario interleaved."""
    started = time.monotonic()
    run_dir = context.new_run_dir("compare", args.out)
    print(f"acme benchmark comparison -> {run_dir}")
    try:
        versions = {
            "A": prepare_version(args.a, rebuild=args.rebuild),
            "B": prepare_version(args.b, rebuild=args.rebuild),
        }
    except VersionError as exc:
        raise BenchError(str(exc)) from exc
    meta = context.base_meta(
        argv,
        {
            "A": versions["A"].description,
            "B": versions["B"].description,
            "run directory": str(run_dir),
        },
    )
    keys = keys_for_run()
    databases: list[BenchDatabase] = []
    bouncer = start_pgbouncer(run_dir, admin_url(args)) if args.pgbouncer else None
    try:
        targets: list[AppTarget] = []
        data: dict[str, DataFiles] = {}
        for name, version in versions.items():
            database = BenchDatabase.create(admin_url(args), label=f"cmp_{name.lower()}")
            databases.append(database)
            env = server_env(database, keys=keys)
            print(f"{name}: database {database.name}: migrating with {version.spec}")
            migrated(database, version.bin_dir, env)
            data[name] = provision(
                database,
                bin_dir=version.bin_dir,
                size=args.size,
                scenario=args.scenario,
                directory=run_dir / f"data-{name}",
                env=env,
                accounts=args.accounts,
            )
            target_env = {"ACME_DATABASE_URL": env["ACME_DATABASE_URL"]}
            if bouncer is not None and name == "B":
                target_env = through_pgbouncer(env["ACME_DATABASE_URL"], bouncer)
                print(f"B: through PgBouncer on {bouncer.address} (transaction mode)")
            if name == "B" and args.env_b is not None:
                target_env = {**target_env, **dict(args.env_b)}
                print("B: with " + " ".join(f"{k}={v}" for k, v in args.env_b))
            targets.append(
                AppTarget(
                    name,
                    version.bin_dir,
                    env=target_env,
                    nginx=args.nginx,
                    database=database.name,
                )
            )
        load = Load(
            scenario=args.scenario,
            users=args.users,
            spawn_rate=args.spawn_rate,
            duration_s=args.duration,
            processes=args.processes,
        )
        experiment = Experiment(
            name="compare",
            title=f"{args.scenario}: B ({args.b}) against A ({args.a})",
            targets=targets,
            load=load,
            driver=args.driver,
            rounds=args.rounds,
            warmup_s=args.warmup,
            workers=args.workers,
            data=data,
        )
        sections = run_sections(
            [experiment], run_dir=run_dir, server_env=server_env(databases[0], keys=keys)
        )
    except DatabaseError as exc:
        raise BenchError(str(exc)) from exc
    finally:
        if bouncer is not None:
            bouncer.stop()
        if not args.keep_db:
            for database in databases:
                database.drop()
    judgements = (
        [] if args.fail_above is None else judge_section(sections[0], threshold=args.fail_above)
    )
    finish(
        run_dir,
        title=f"acme API: {args.b} (B) against {args.a} (A)",
        meta=meta,
        checks=threshold_checks(judgements, threshold=args.fail_above or 0.0),
        sections=sections,
        started=started,
    )
    if args.fail_above is None:
        return 0
    return print_verdict(sections[0], judgements, threshold=args.fail_above)


def print_verdict(section: Section, judgements: Sequence[Judgement], *, threshold: float) -> int:
    """Print the run's noise, each judgement and the verdict; return the exit status."""
    noise = section.noise("B")
    print(
        f"\nothers' CPU during the runs: median {noise['others_cpu_pct_median']:.0f} %,"
        f" max {noise['others_cpu_pct_max']:.0f} % of one core"
    )
    for judgement in judgements:
        print(f"  {judgement.metric}: {judgement.describe()}")
    status = 0 if passes(judgements) else 1
    print(f"verdict: {verdict(judgements)} (--fail-above {threshold:.1%}; exit status {status})")
    return status


def start_pgbouncer(run_dir: Path, admin: str) -> PgBouncer:
    """PgBouncer (deploy/pgbouncer/pgbouncer.ini, Debian's package) in front of the
    benchmark's PostgreSQL, forwarding every database.

    Raises:
        BenchError: PgBouncer is not installed or did not start.
    """
    from stackkit import PGBOUNCER, PgBouncer, StackError

    if not Path(PGBOUNCER).exists():
        raise BenchError("--pgbouncer needs PgBouncer: apt-get install pgbouncer")
    server = make_url(admin)
    bouncer = PgBouncer(
        run_dir / "pgbouncer",
        server_port=server.port or 5432,
        database="*",
        user=server.username or "postgres",
    )
    try:
        bouncer.start()
    except StackError as exc:
        raise BenchError(str(exc)) from exc
    return bouncer


def through_pgbouncer(database_url: str, bouncer: PgBouncer) -> dict[str, str]:
    """The server settings for ``database_url``'s database reached through ``bouncer``."""
    url = make_url(database_url).set(host="127.0.0.1", port=bouncer.port)
    return {
        "ACME_DATABASE_URL": url.render_as_string(hide_password=False),
        "ACME_DB_PGBOUNCER": "true",
    }
