"""Experiments: the same load against several targets, in interleaved rounds.

Round 1 measures the targets in order A, B, ...; round 2 in reverse; and so
on. Each measurement starts its stack fresh, warms it up, then measures while
the resource sampler watches. Drift from other work on the machine then hits
every target alike, and a per-round ratio cancels most of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from .dataset import DataFiles
from .drivers import DriverError, Figures, Load, Progress, result, run_locust, run_wrk
from .sampler import ResourceSampler
from .stack import AppTarget, Stack
from .stats import RunResult

__all__ = ["Experiment", "run_experiment"]

Hook = Callable[[AppTarget, Stack], None]


@dataclass(frozen=True)
class Experiment:
    """One comparison: a scenario, a driver, and the targets it runs against.

    Args:
        name: Short id (file names, JSON keys).
        title: What a reader of the report sees.
        targets: The apps to compare; the first is the reference ("A").
        load: Users, duration, the scenario.
        driver: ``locust`` or ``wrk``.
        rounds: Interleaved rounds.
        warmup_s: Load before each measurement that is not counted.
        workers: gunicorn workers per target.
        data: Each target's tokens, dataset and request lists, by target name.
            For wrk, ``load.scenario`` names the request list to replay.
    """

    name: str
    title: str
    targets: Sequence[AppTarget]
    load: Load
    driver: str = "locust"
    rounds: int = 3
    warmup_s: float = 5.0
    workers: int = 1
    data: Mapping[str, DataFiles] = field(default_factory=dict)


def _drive(
    experiment: Experiment,
    *,
    target: AppTarget,
    stack: Stack,
    load: Load,
    out: Path,
    label: str,
    progress: Progress,
) -> Figures:
    sampler = ResourceSampler(
        server_pid=stack.server_pid, proxy_pid=stack.proxy_pid, database=target.database or None
    )
    sampler.start()
    data = experiment.data.get(target.name)
    if experiment.driver == "wrk":
        if data is None or load.scenario not in data.requests:
            raise DriverError(f"no wrk request list {load.scenario!r} for {target.name}")
        return run_wrk(
            host=stack.url,
            load=replace(load, scenario=str(data.requests[load.scenario])),
            out=out,
            sampler=sampler,
            tokens_file=data.tokens,
            accounts_file=data.accounts,
            label=label,
            progress=progress,
        )
    return run_locust(
        host=stack.url,
        load=load,
        out=out,
        sampler=sampler,
        env=data.locust_env() if data else {},
        label=label,
        progress=progress,
    )


def _measure(
    experiment: Experiment,
    *,
    target: AppTarget,
    round_: int,
    run_dir: Path,
    server_env: Mapping[str, str],
    progress: Progress,
    before_measure: Hook | None,
) -> RunResult:
    """Start the target's stack, warm it up, measure once, stop it."""
    out_dir = run_dir / experiment.name
    workers = target.workers or experiment.workers
    label = f"{experiment.name} {target.name} r{round_}/{experiment.rounds}"
    nginx = ", behind nginx" if target.nginx else ""
    progress(f"- {label}: starting {target.name} ({workers} workers{nginx})")
    stem = f"{target.name}_r{round_}"
    stack = Stack(target=target, workers=workers, env=server_env, run_dir=run_dir / "servers")
    with stack:
        if experiment.warmup_s > 0:
            warm = replace(experiment.load, duration_s=experiment.warmup_s)
            _drive(
                experiment,
                target=target,
                stack=stack,
                load=warm,
                out=out_dir / "warmup" / stem,
                label=f"{label} warm-up",
                progress=progress,
            )
        if before_measure is not None:
            before_measure(target, stack)
        figures = _drive(
            experiment,
            target=target,
            stack=stack,
            load=experiment.load,
            out=out_dir / stem,
            label=label,
            progress=progress,
        )
    return result(
        experiment=experiment.name,
        target=target.name,
        round_=round_,
        driver=experiment.driver,
        load=experiment.load,
        workers=workers,
        figures=figures,
        artifacts=_artifacts(experiment, out_dir, stem, run_dir),
    )


def run_experiment(
    experiment: Experiment,
    *,
    run_dir: Path,
    server_env: Mapping[str, str],
    progress: Progress = print,
    before_measure: Hook | None = None,
) -> list[RunResult]:
    """Run every round of an experiment; return one result per target and round."""
    results: list[RunResult] = []
    for round_ in range(1, experiment.rounds + 1):
        order = list(experiment.targets)
        if round_ % 2 == 0:
            order.reverse()
        for target in order:
            started = time.monotonic()
            run = _measure(
                experiment,
                target=target,
                round_=round_,
                run_dir=run_dir,
                server_env=server_env,
                progress=progress,
                before_measure=before_measure,
            )
            results.append(run)
            m = run.metrics()
            progress(
                f"  => {target.name}: {m['rps']:.0f} rps, p50 {m['p50_ms']:.1f} ms,"
                f" p99 {m['p99_ms']:.1f} ms, {int(m['failures'])} failed,"
                f" server {m['server_cpu_ms_per_req']:.2f} ms CPU/req,"
                f" peak RSS/worker {m['peak_worker_rss_mb']:.0f} MB"
                f" ({time.monotonic() - started:.0f}s)"
            )
    return results


def _artifacts(experiment: Experiment, out_dir: Path, stem: str, run_dir: Path) -> dict[str, str]:
    base = out_dir / stem
    if experiment.driver == "wrk":
        names = {"wrk_log": f"{base}_wrk.log"}
    else:
        names = {
            "stats_csv": f"{base}_stats.csv",
            "history_csv": f"{base}_stats_history.csv",
            "failures_csv": f"{base}_failures.csv",
            "html": f"{base}.html",
        }
    return {k: str(Path(v).relative_to(run_dir)) for k, v in names.items()}
