"""Experiments: the same load against several targets, in interleaved rounds.

Every target's stack is started first and warmed up before its first
measurement. Round 1 then measures the targets in order A, B, ...; round 2
in reverse; and so on, while the resource sampler watches each run. Drift
from other work on the machine hits every target alike, and a per-round
ratio cancels most of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

import psutil

from .dataset import DataFiles
from .drivers import DriverError, Figures, Load, Progress, result, run_locust, run_wrk
from .sampler import ResourceSampler, process_tree
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
        warmup_s: Load before a target's first measurement, not counted.
        workers: gunicorn workers per target.
        data: Each target's tokens, dataset and request lists, by target name.
            For wrk, ``load.scenario`` names the request list to replay.
        check: Called with each target's running stack before any load: raise
            to stop the experiment when the target does not answer as expected.
        keep_up: Start every target once and keep them all up (the default).
            ``False`` starts each target for its measurement only, warmed up
            every time: for experiments whose stacks together would hold more
            database connections than the server allows (each worker keeps its
            own pool; see ``sweep``).
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
    check: Hook | None = None
    keep_up: bool = True


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
    stack: Stack,
    round_: int,
    run_dir: Path,
    progress: Progress,
    warm_up: bool,
) -> RunResult:
    """Warm the running stack up (first round only), then measure once."""
    out_dir = run_dir / experiment.name
    label = f"{experiment.name} {target.name} r{round_}/{experiment.rounds}"
    stem = f"{target.name}_r{round_}"
    if warm_up and experiment.warmup_s > 0:
        _drive(
            experiment,
            target=target,
            stack=stack,
            load=replace(experiment.load, duration_s=experiment.warmup_s),
            out=out_dir / "warmup" / stem,
            label=f"{label} warm-up",
            progress=progress,
        )
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
        workers=stack.workers,
        figures=figures,
        artifacts=_artifacts(experiment, out_dir, stem, run_dir),
    )


def _busy_seconds(stacks: Iterable[Stack]) -> float:
    total = 0.0
    for stack in stacks:
        for pid in (stack.server_pid, stack.proxy_pid):
            for process in process_tree(pid):
                try:
                    times = process.cpu_times()
                except psutil.Error:
                    continue
                total += times.user + times.system
    return total


def settle(
    stacks: Iterable[Stack],
    *,
    idle_percent: float = 5.0,
    window_s: float = 0.5,
    limit_s: float = 90.0,
) -> float:
    """Wait until the stacks have finished the work a measurement left behind.

    A run ends when the load stops, not when the server is done: the API's
    relay and event consumers go on working through what the writes queued
    (item counts, for instance). Measuring the next target meanwhile would
    charge that work to it. Returns the seconds waited (at most ``limit_s``).
    """
    stacks = list(stacks)
    started = time.monotonic()
    before = _busy_seconds(stacks)
    while time.monotonic() - started < limit_s:
        time.sleep(window_s)
        now = _busy_seconds(stacks)
        if (now - before) / window_s * 100 < idle_percent:
            break
        before = now
    return time.monotonic() - started


def run_experiment(
    experiment: Experiment,
    *,
    run_dir: Path,
    server_env: Mapping[str, str],
    progress: Progress = print,
    before_measure: Hook | None = None,
) -> list[RunResult]:
    """Start the targets, run the interleaved rounds, stop them; one result per run.

    By default all targets stay up for the whole experiment (an idle one
    costs next to nothing) and each is warmed up before its first
    measurement; see :attr:`Experiment.keep_up`. Before each measurement the
    runner waits for every running stack to go idle (:func:`settle`).
    """
    results: list[RunResult] = []

    def start(target: AppTarget, within: ExitStack) -> Stack:
        workers = target.workers or experiment.workers
        nginx = ", behind nginx" if target.nginx else ""
        progress(f"- starting {target.name} ({workers} workers{nginx})")
        stack = Stack(target=target, workers=workers, env=server_env, run_dir=run_dir / "servers")
        within.enter_context(stack)
        for hook in (experiment.check, before_measure):
            if hook is not None:
                hook(target, stack)
        return stack

    with ExitStack() as running:
        stacks: dict[str, Stack] = {}
        if experiment.keep_up:
            for target in experiment.targets:
                stacks[target.name] = start(target, running)
        for round_ in range(1, experiment.rounds + 1):
            order = list(experiment.targets)
            if round_ % 2 == 0:
                order.reverse()
            for target in order:
                with ExitStack() as this_run:
                    stack = stacks.get(target.name) or start(target, this_run)
                    waited = settle(stacks.values() if experiment.keep_up else [stack])
                    if waited >= 2:
                        progress(f"  (waited {waited:.0f}s for the servers to finish queued work)")
                    started = time.monotonic()
                    run = _measure(
                        experiment,
                        target=target,
                        stack=stack,
                        round_=round_,
                        run_dir=run_dir,
                        progress=progress,
                        warm_up=round_ == 1 or not experiment.keep_up,
                    )
                results.append(run)
                m = run.metrics()
                progress(
                    f"  => {target.name} r{round_}: {m['rps']:.0f} rps, p50 {m['p50_ms']:.1f} ms,"
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
