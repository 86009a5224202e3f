"""``profile``: py-spy on a gunicorn worker while a scenario drives it; a readable summary."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from . import context
from .commands import (
    CURRENT_BIN,
    BenchError,
    admin_url,
    keys_for_run,
    migrated,
    provision,
)
from .database import BenchDatabase, DatabaseError
from .dataset import DataFiles
from .drivers import Load, run_locust
from .profiling import parse_collapsed, render_profile
from .provision import server_env
from .sampler import ResourceSampler
from .stack import AppTarget, Stack

__all__ = ["cmd_profile"]


def _py_spy() -> str:
    beside = Path(sys.executable).parent / "py-spy"
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if not found:
        raise BenchError("py-spy is not installed (it is in the bench environment)")
    return found


def _worker_pid(stack: Stack) -> int:
    import psutil

    assert stack.server_pid is not None
    children = psutil.Process(stack.server_pid).children()
    if len(children) != 1:
        raise BenchError(f"expected one gunicorn worker to profile, found {len(children)}")
    return int(children[0].pid)


def _started(sampler: ResourceSampler) -> ResourceSampler:
    sampler.start()
    return sampler


def _profile_one(
    scenario: str,
    *,
    target: AppTarget,
    data: DataFiles,
    args: argparse.Namespace,
    env: dict[str, str],
    run_dir: Path,
) -> str:
    load = Load(
        scenario=scenario,
        users=args.users,
        spawn_rate=args.spawn_rate,
        duration_s=args.duration,
        processes=args.processes,
    )
    out = run_dir / scenario
    with Stack(target=target, workers=1, env=env, run_dir=run_dir / "servers") as stack:
        warm = replace(load, duration_s=args.warmup)
        run_locust(
            host=stack.url,
            load=warm,
            out=out / "warmup",
            env=data.locust_env(),
            sampler=_started(ResourceSampler(server_pid=stack.server_pid)),
            label="warm-up",
        )
        collapsed = out / "py-spy.txt"
        spy = subprocess.Popen(
            [
                _py_spy(),
                "record",
                "--pid",
                str(_worker_pid(stack)),
                "--format",
                "raw",
                "--function",
                "--nonblocking",
                "--rate",
                "200",
                "--duration",
                str(int(args.duration)),
                "--output",
                str(collapsed),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        latency, _, usage = run_locust(
            host=stack.url,
            load=load,
            out=out / "load",
            env=data.locust_env(),
            sampler=_started(ResourceSampler(server_pid=stack.server_pid)),
            label=f"profile {scenario}",
        )
        _, errors = spy.communicate(timeout=args.duration + 60)
    if spy.returncode != 0 or not collapsed.exists():
        raise BenchError(f"py-spy failed ({spy.returncode}): {errors.strip()[-1500:]}")
    profile = parse_collapsed(collapsed.read_text().splitlines())
    cpu_ms = 1000 * usage.server_cpu_seconds / max(1, latency.requests)
    notes = [
        "Samples of the worker's threads while they hold the GIL (py-spy --gil): "
        "Python at work, waits left out.",
        f"Load: {scenario}, {args.users} users, {args.duration:g}s, 1 worker: "
        f"{latency.rps:.0f} req/s, {cpu_ms:.2f} ms of worker CPU per request.",
        f"Collapsed stacks (for speedscope or flamegraph.pl): `{collapsed.relative_to(run_dir)}`.",
    ]
    return render_profile(f"{scenario}", profile, notes=notes)


def cmd_profile(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    """Profile one worker of the current tree under each scenario named."""
    started = time.monotonic()
    run_dir = context.new_run_dir("profile", args.out)
    meta = context.base_meta(argv, {})
    print(f"acme benchmark profile -> {run_dir}")
    keys = keys_for_run()
    try:
        database = BenchDatabase.create(admin_url(args), label="profile")
    except DatabaseError as exc:
        raise BenchError(str(exc)) from exc
    sections = []
    try:
        env = server_env(database, keys=keys)
        migrated(database, CURRENT_BIN, env)
        data = provision(
            database,
            bin_dir=CURRENT_BIN,
            size=args.size,
            scenario="items",
            directory=run_dir / "data",
            env=env,
            accounts=args.accounts,
        )
        target = AppTarget("api", CURRENT_BIN, database=database.name)
        for scenario in [s.strip() for s in args.scenario.split(",") if s.strip()]:
            print(f"\n== profiling {scenario}")
            sections.append(
                _profile_one(
                    scenario, target=target, data=data, args=args, env=env, run_dir=run_dir
                )
            )
    finally:
        if not args.keep_db:
            database.drop()
    header = ["# acme API profiles", ""] + [f"- **{k}**: {v}" for k, v in meta.items()]
    header.append(f"- **wall time**: {time.monotonic() - started:.0f}s")
    report = run_dir / "profile.md"
    report.write_text("\n".join(header) + "\n\n" + "\n".join(sections))
    print(f"\nprofile: {report}")
    return 0
