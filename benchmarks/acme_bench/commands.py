"""The runner's commands: each makes its databases, runs experiments, writes a report
that says what ran where (the command, the code, the machine, the load on it); with
``compare --fail-above``, a verdict (exit status 0 pass, 1 regression). ``profile``
has a module of its own."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from argparse import Namespace
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from . import RESULTS_DIR, BenchError, plans, provision, report
from .drivers import Load
from .engine import CURRENT_BIN, PIPELINE_APART, AppTarget, Experiment, run_experiment
from .provision import BenchDatabase, DataFiles
from .report import Check, Section
from .stats import Judgement
from .versions import git_describe, prepare_version


def load() -> str:
    """The load average and the busiest processes now, as ``ps`` shows them."""
    ps = ["ps", "-eo", "pcpu,comm", "--sort=-pcpu", "h"]
    rows = subprocess.run(ps, capture_output=True, text=True, check=False).stdout.splitlines()
    busy = [f"{name} {cpu}%" for cpu, name in (row.split(None, 1) for row in rows) if name != "ps"]
    averages = " / ".join(f"{n:.2f}" for n in os.getloadavg())
    return f"{averages} (1 / 5 / 15 min); busiest: {', '.join(busy[:3])}"


def parse_size(text: str) -> int:
    """``10k`` -> 10000, ``1M`` -> 1000000, ``2500`` -> 2500 (BenchError if not a size)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", text)
    value = int(float(match[1]) * {"": 1, "k": 1e3, "m": 1e6}[match[2].lower()]) if match else 0
    if value < 1:
        raise BenchError(f"not a size: {text!r} (try 10k, 100k, 1M)")
    return value


class Run(ExitStack):
    """One command's run: its directory, its report's context, fresh signing keys for
    every server and token of the run, and its databases (dropped at the end unless
    ``--keep-db``)."""

    def __init__(self, kind: str, args: Namespace, argv: Sequence[str] | None) -> None:
        super().__init__()
        self.args, self.started = args, time.monotonic()
        stamp = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}"
        self.dir = args.out or RESULTS_DIR / f"{kind}-{stamp}"
        self.dir.mkdir(parents=True, exist_ok=True)
        print(f"acme benchmark {kind} -> {self.dir}")
        model = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        machine = f"{os.cpu_count()} cores ({model and model[1]}), {memory:.0f} GiB"
        command = shlex.join(sys.argv[1:] if argv is None else argv)
        self.meta: dict[str, Any] = {
            "command": f"`python -m acme_bench {command}`",
            "code": git_describe(),
            "date": f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M UTC}",
            "machine": f"{machine}, {platform.platform()}",
            "load before": load(),
            "run directory": str(self.dir),
        }
        self.keys = provision.new_keys(CURRENT_BIN)
        admin = args.admin_url or os.environ.get("ACME_BENCH_ADMIN_URL")
        self.admin_url = admin or provision.DEFAULT_ADMIN_URL

    def database(self, label: str, bin_dir: Path = CURRENT_BIN, *, copy: str = "") -> BenchDatabase:
        """A new database migrated by ``bin_dir``'s ``acme-api``, or a copy of database ``copy``."""
        database = BenchDatabase.create(self.admin_url, label=label, template=copy)
        if not self.args.keep_db:
            self.callback(database.drop)
        if not copy:
            print(f"database {database.name}: migrating with {bin_dir / 'acme-api'}")
            provision.acme_api(bin_dir, "migrate", env={**os.environ, **self.env(database)})
        return database

    def env(self, database: BenchDatabase) -> dict[str, str]:
        """The servers' environment on ``database``."""
        return provision.server_env(database, keys=self.keys)

    def seeded(self, label: str, bin_dir: Path = CURRENT_BIN) -> tuple[BenchDatabase, DataFiles]:
        """A database migrated by ``bin_dir``'s ``acme-api``, with the accounts (its tokens)
        and ``--size`` items."""
        database, out = self.database(label, bin_dir), self.dir / f"data-{label}"
        tokens = provision.issue_tokens(bin_dir, self.env(database), self.args.accounts, out)
        size = parse_size(self.args.size)
        return database, provision.seed(database, tokens, self.keys, size, directory=out)

    def amqp(self, database: BenchDatabase) -> dict[str, str]:
        """Settings that send a server's events on ``database`` through the run's RabbitMQ
        (``--amqp-url``, ``ACME_BENCH_AMQP_URL`` or the local broker), on an exchange of its
        own that the run deletes with its queues at the end."""
        url = self.args.amqp_url or os.environ.get("ACME_BENCH_AMQP_URL")
        settings = provision.amqp_env(url or provision.DEFAULT_AMQP_URL)
        self.callback(provision.drop_amqp_topology, settings, database)
        return settings

    def load(self, scenario: str, **changes: Any) -> Load:
        """The load the options describe, for ``scenario``, but for ``changes``."""
        a = self.args
        return replace(Load(scenario, a.users, a.spawn_rate, a.duration, a.processes), **changes)

    def experiment(
        self, name: str, title: str, targets: Sequence[AppTarget], load: Load, **changes: Any
    ) -> Experiment:
        """An experiment with the options' rounds, warm-up and workers, but for ``changes``."""
        a = self.args
        settings = {"rounds": a.rounds, "warmup_s": a.warmup, "workers": a.workers, **changes}
        return Experiment(name, title, targets, load, **settings)

    def measure(self, experiments: Sequence[Experiment], env: dict[str, str]) -> list[Section]:
        """Run the experiments one after the other; a section of the report for each."""
        sections = []
        for e in experiments:
            users, duration = e.load.users, f"{e.load.duration_s:g}s"
            print(f"\n== {e.title} ({e.rounds} rounds, {e.driver}, {users} users, {duration} each)")
            settings = {"driver": e.driver, "scenario": e.load.scenario, "users": users}
            settings |= {"duration": duration, "rounds": e.rounds, "workers": e.workers}
            settings["nginx"] = any(t.nginx for t in e.targets)
            results = run_experiment(e, self.dir, env)
            reference = e.targets[0].name
            sections.append(Section(e.name, e.title, e.description, results, reference, settings))
        return sections

    def finish(self, title: str, sections: Sequence[Section], checks: Sequence[Check] = ()) -> None:
        """Write summary.json, report.md and chart.png, and say where they are."""
        self.meta |= {"load after": load(), "wall time": f"{time.monotonic() - self.started:.0f}s"}
        report.write_chart(self.dir / "chart.png", sections, title=title)
        written = report.write_report(self.dir, title, self.meta, checks, sections)
        print("\nsummary: {}\nreport: {}\nchart: {}".format(*written, self.dir / "chart.png"))
        for c in checks:
            print(f"  {'met   ' if c.passed else 'MISSED'} {c.name}: {c.shown} (goal {c.goal})")


def cmd_report(args: Namespace, argv: Sequence[str] | None) -> int:
    """Measure the working tree: every experiment, the targets, the report.

    The large database is a copy of the small one once its accounts exist, so
    the same tokens serve both. The floor gets a copy of the seeded small one:
    its writes add outbox rows too, and in a shared database the API's relay
    (idle, but up for the whole experiment) would publish them while the floor
    is measured, charging the floor for work of the API's.
    """
    with Run("report", args, argv) as run:
        small, out = run.database("report"), run.dir / "data-small"
        tokens = provision.issue_tokens(CURRENT_BIN, run.env(small), args.accounts, out)
        large = None if args.deep_size.lower() == "skip" else run.database("large", copy=small.name)
        files = provision.seed(small, tokens, run.keys, parse_size(args.size), directory=out)
        floor = run.database("floor", copy=small.name)
        # The APIs on RabbitMQ get databases of their own: their relays must not see the API's rows.
        brokered = run.database("amqp", copy=small.name), run.database("apart", copy=small.name)
        deep = None
        if large is not None:
            size, out = parse_size(args.deep_size), run.dir / "data-large"
            deep = large, provision.seed(large, tokens, run.keys, size, directory=out)
        experiments = plans.report_experiments(run, (small, files), floor, deep, brokered)
        sections = run.measure(experiments, run.env(small))
        run.finish("acme API benchmark", sections, plans.evaluate(sections))
    return 0


def _one_database(kind: str, args: Namespace, argv: Sequence[str] | None, title: str) -> int:
    """``sweep`` and ``wrk``: one seeded database (the floor on a copy of it: its outbox
    rows must not wake the API's relay, see :func:`cmd_report`)."""
    if getattr(args, "apart", False) and not args.amqp:
        # acme-api relay needs a broker: the in-process bus delivers in the process that relays
        raise BenchError(
            "--apart needs --amqp: the relay and consumers apart talk through RabbitMQ"
        )
    with Run(kind, args, argv) as run:
        database, files = run.seeded(kind)
        floor = run.database(f"{kind}_floor", copy=database.name) if args.floor else None
        targets = []
        for count in args.worker_counts if kind == "sweep" else [None]:
            label = f"-{count}w" if count else ""
            if floor is not None:
                targets.append(plans.floor_target(floor, files, f"floor{label}", count))
            api = AppTarget(f"api{label}", database, files, nginx=args.nginx, workers=count)
            if getattr(args, "amqp", False):
                api = replace(api, env=run.amqp(database))
            if getattr(args, "apart", False):
                api = replace(api, apart=PIPELINE_APART)
            targets.append(api)
        if kind == "sweep":  # each stack on its own: its workers' pools would take too many
            # connections together (1 + 2 + 4 workers of the API and the floor: 280 of 100)
            load, driver = run.load(args.scenario), args.driver
            experiment = run.experiment(kind, title, targets, load, driver=driver, keep_up=False)
        else:
            load = run.load(args.scenario, wrk_threads=args.threads)
            experiment = run.experiment(f"wrk-{args.scenario}", title, targets, load, driver="wrk")
        run.finish(f"acme API: {title}", run.measure([experiment], run.env(database)))
    return 0


def cmd_sweep(args: Namespace, argv: Sequence[str] | None) -> int:
    """The same scenario at 1, 2, 4 gunicorn workers (and the floor's), interleaved."""
    return _one_database("sweep", args, argv, f"{args.scenario} by gunicorn worker count")


def cmd_wrk(args: Namespace, argv: Sequence[str] | None) -> int:
    """A saturation run with wrk, optionally against the floor too."""
    return _one_database("wrk", args, argv, f"wrk saturation: {args.scenario}")


def cmd_compare(args: Namespace, argv: Sequence[str] | None) -> int:
    """Install A and B, give each a seeded database of its own, run the scenario interleaved."""
    with Run("compare", args, argv) as run:
        versions = [prepare_version(spec, rebuild=args.rebuild) for spec in (args.a, args.b)]
        targets = []
        for name, version in zip("AB", versions, strict=True):
            run.meta[name] = version.description
            database, files = run.seeded(f"cmp_{name.lower()}", bin_dir=version.bin_dir)
            bus = run.amqp(database) if args.amqp else {}
            target = AppTarget(name, database, files, version.bin_dir, env=bus, nginx=args.nginx)
            targets.append(target)
        settings = dict(args.env_b or [])
        if args.pgbouncer:
            url = make_url(targets[1].database.url()).set(host="127.0.0.1", port=_pgbouncer(run))
            settings["ACME_DATABASE_URL"] = url.render_as_string(hide_password=False)
            settings["ACME_DB_PGBOUNCER"] = "true"
        if settings:
            print("B: with " + " ".join(f"{k}={v}" for k, v in settings.items()))
            targets[1] = replace(targets[1], env={**targets[1].env, **settings})
        title = f"{args.scenario}: B ({args.b}) against A ({args.a})"
        # Judged, every target gets a fresh process every 3 rounds: see "Reading the figures".
        restart = 0 if args.fail_above is None else 3
        load, driver = run.load(args.scenario), args.driver
        experiment = run.experiment(
            "compare", title, targets, load, driver=driver, restart_every=restart
        )
        section = run.measure([experiment], env=run.env(targets[0].database))[0]
        judgements = []
        if args.fail_above is not None:
            judgements = report.judge_section(section, threshold=args.fail_above)
        if any(j.leaning for j in judgements):  # once, then judged on all the rounds
            print("\na median is past the limit, its interval is not: as many rounds again")
            more = run.measure([experiment], env=run.env(targets[0].database))[0].results
            rounds = [replace(r, round=r.round + experiment.rounds) for r in more]
            settings = {**section.settings, "rounds": 2 * experiment.rounds}
            section = replace(section, results=[*section.results, *rounds], settings=settings)
            judgements = report.judge_section(section, threshold=args.fail_above)
        checks = report.threshold_checks(judgements, threshold=args.fail_above or 0.0)
        run.finish(f"acme API: {args.b} (B) against {args.a} (A)", [section], checks)
    return 0 if args.fail_above is None else print_verdict(section, judgements, args.fail_above)


def print_verdict(section: Section, judgements: Sequence[Judgement], threshold: float) -> int:
    """Print the run's noise, each judgement and the verdict; return the exit status."""
    median, most = section.noise("B").values()
    print(f"\nothers' CPU during the runs: median {median:.0f} %, max {most:.0f} % of one core")
    for judgement in judgements:
        print(f"  {judgement.metric}: {judgement.describe()}")
    status, verdict = (0 if report.passes(judgements) else 1), report.verdict(judgements)
    print(f"verdict: {verdict} (--fail-above {threshold:.1%}; exit status {status})")
    return status


def _pgbouncer(run: Run) -> int:
    """PgBouncer (Debian's, deploy/pgbouncer/pgbouncer.ini, transaction mode) in front of
    the benchmark's PostgreSQL, forwarding every database, until the run ends; its port.

    Raises:
        BenchError: PgBouncer is not installed.
    """
    from stackkit import PGBOUNCER, PgBouncer

    if not Path(PGBOUNCER).exists():
        raise BenchError("--pgbouncer needs PgBouncer: apt-get install pgbouncer")
    server = make_url(run.admin_url)
    port, user = server.port or 5432, server.username or "postgres"
    bouncer = PgBouncer(run.dir / "pgbouncer", server_port=port, database="*", user=user)
    run.callback(bouncer.stop)
    bouncer.start()
    return bouncer.port
