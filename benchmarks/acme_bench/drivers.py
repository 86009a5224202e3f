"""Load drivers: locust (the scenario language) and wrk (the light one for saturation).

A driver runs one measurement against a running stack while a
:class:`~acme_bench.sampler.ResourceSampler` watches, prints a progress line
every few seconds, and returns a :class:`~acme_bench.stats.RunResult`.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .debian import MissingTool, debian_tool
from .loadgen_cpu import ENV_VAR as CPU_LOG_VAR
from .loadgen_cpu import count_events, read_window_cpu
from .parsing import (
    ParseError,
    parse_wrk_summary,
    read_locust_history,
    read_locust_stats,
    summarize_lines,
)
from .paths import BENCH_DIR
from .sampler import ResourceSampler
from .stats import Latency, ProcessUsage, RunResult, Usage

__all__ = ["BENCH_DIR", "DriverError", "Load", "run_locust", "run_wrk"]

LOCUSTFILE = BENCH_DIR / "scenarios" / "locustfile.py"
WRK_SCRIPT = BENCH_DIR / "wrk" / "replay.lua"
PROGRESS_EVERY = 5.0


class DriverError(RuntimeError):
    """The load generator failed; the message says how, with its last output lines."""


@dataclass(frozen=True, slots=True)
class Load:
    """How hard and how long to drive a stack.

    ``scenario`` is a locust user class name (see ``scenarios/locustfile.py``)
    for locust, or a request-list file for wrk.
    """

    scenario: str
    users: int = 32
    spawn_rate: float = 32.0
    duration_s: float = 20.0
    processes: int = 1
    wrk_threads: int = 1


Progress = Callable[[str], None]
Figures = tuple[Latency, dict[str, Latency], Usage]


def _progress_line(label: str, elapsed: float, total: float, usage: Usage, extra: str) -> str:
    cpu = usage.percent
    return (
        f"  [{label}] {elapsed:4.0f}/{total:.0f}s {extra}"
        f" server {cpu(usage.server_cpu_seconds + usage.proxy_cpu_seconds):4.0f}%"
        f" loadgen {cpu(usage.loadgen_cpu_seconds):4.0f}%"
        f" other {cpu(usage.other_cpu_seconds):4.0f}%"
    )


def _follow(
    process: subprocess.Popen[str],
    *,
    sampler: ResourceSampler,
    label: str,
    total: float,
    status: Callable[[], str],
    progress: Progress,
    tick: Callable[[], None] | None = None,
) -> None:
    started = time.monotonic()
    last = started
    while process.poll() is None:
        time.sleep(0.1)
        if tick is not None:
            tick()
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY:
            last = now
            elapsed = min(now - started, total)
            progress(_progress_line(label, elapsed, total, sampler.usage(), status()))


def _window(usage: Usage, loadgen_cpu: float | None) -> Usage:
    """The load generator's CPU from its own hooks, when it logged them."""
    if loadgen_cpu is None:
        return usage
    peak = max((p.peak_rss_bytes for p in usage.loadgen), default=0)
    loadgen = (ProcessUsage(pid=0, role="loadgen", cpu_seconds=loadgen_cpu, peak_rss_bytes=peak),)
    return dataclasses.replace(usage, loadgen=loadgen)


class _LoadWindow:
    """Aligns the sampler's window with locust's load, from the processes' CPU log.

    The first ``start`` line (locust's ``test_start``) restarts the window; when
    every process that started has logged ``stop``, the window closes. Locust's
    start-up and shut-down then count for nobody.
    """

    def __init__(self, cpu_log: Path, sampler: ResourceSampler) -> None:
        self.cpu_log = cpu_log
        self.sampler = sampler
        self.started = False

    def tick(self) -> None:
        if self.sampler.stopped or not self.cpu_log.exists():
            return
        starts, stops = count_events(self.cpu_log.read_text(encoding="utf-8").splitlines())
        if starts and not self.started:
            self.started = True
            self.sampler.rebase()
        if self.started and stops >= starts:
            self.sampler.stop()


def run_locust(
    *,
    host: str,
    load: Load,
    out: Path,
    sampler: ResourceSampler,
    env: Mapping[str, str],
    label: str,
    progress: Progress = print,
    locustfile: Path = LOCUSTFILE,
) -> Figures:
    """Run locust headless; write ``out``'s CSV files and HTML report; return the figures.

    Raises:
        DriverError: locust failed to start or wrote no statistics.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    cpu_log = out.with_name(out.name + "_loadgen_cpu.jsonl")
    cpu_log.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(locustfile),
        "--headless",
        "--host",
        host,
        "--users",
        str(load.users),
        "--spawn-rate",
        str(load.spawn_rate),
        "--run-time",
        f"{load.duration_s:g}s",
        "--stop-timeout",
        "5",
        "--csv",
        str(out),
        "--html",
        f"{out}.html",
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--exit-code-on-error",
        "0",
    ]
    if load.processes > 1:
        command += ["--processes", str(load.processes)]
    command.append(load.scenario)
    log_path = out.with_name(out.name + "_locust.log")
    child_env = {**os.environ, **env, CPU_LOG_VAR: str(cpu_log)}
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=child_env, text=True
        )
        sampler.attach_loadgen(process.pid)

        def status() -> str:
            point = read_locust_history(Path(f"{out}_stats_history.csv"))
            if point is None:
                return "starting...".ljust(44)
            return (
                f"users {point.users:3d} rps {point.rps:7.0f} p50 {point.p50_ms:5.0f} ms"
                f" p99 {point.p99_ms:5.0f} ms fail {point.failures}"
            )

        window = _LoadWindow(cpu_log, sampler)
        _follow(
            process,
            sampler=sampler,
            label=label,
            total=load.duration_s,
            status=status,
            progress=progress,
            tick=window.tick,
        )
    usage = sampler.stop()
    output = log_path.read_text(errors="replace").splitlines()
    if process.returncode != 0:
        raise DriverError(
            f"locust exited with status {process.returncode}:\n{summarize_lines(output)}"
        )
    try:
        latency, endpoints = read_locust_stats(Path(f"{out}_stats.csv"))
    except ParseError as exc:
        raise DriverError(f"{exc}\n{summarize_lines(output)}") from None
    return latency, endpoints, _window(usage, read_window_cpu(cpu_log))


def wrk_binary() -> str:
    """The wrk executable (Debian's package, installed when missing and possible).

    Raises:
        DriverError: wrk is not installed and could not be.
    """
    try:
        return debian_tool("wrk", "wrk")
    except MissingTool as exc:
        raise DriverError(str(exc)) from None


def run_wrk(
    *,
    host: str,
    load: Load,
    out: Path,
    sampler: ResourceSampler,
    tokens_file: Path,
    label: str,
    progress: Progress = print,
) -> Figures:
    """Replay ``load.scenario`` (a request-list file) with wrk at ``load.users`` connections.

    Raises:
        DriverError: wrk failed or printed no summary.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    threads = max(1, min(load.wrk_threads, load.users))
    command = [
        wrk_binary(),
        "-t",
        str(threads),
        "-c",
        str(load.users),
        "-d",
        f"{load.duration_s:g}s",
        "--timeout",
        "10s",
        "-s",
        str(WRK_SCRIPT),
        host,
        "--",
        str(tokens_file),
        load.scenario,
    ]
    log_path = out.with_name(out.name + "_wrk.log")
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)
        sampler.attach_loadgen(process.pid)
        _follow(
            process,
            sampler=sampler,
            label=label,
            total=load.duration_s,
            status=lambda: f"wrk -c {load.users}".ljust(44),
            progress=progress,
        )
    usage = sampler.stop()
    output = log_path.read_text(errors="replace")
    if process.returncode != 0:
        raise DriverError(
            f"wrk exited with status {process.returncode}:\n{summarize_lines(output.splitlines())}"
        )
    try:
        latency = parse_wrk_summary(output)
    except ParseError as exc:
        raise DriverError(f"{exc}\n{summarize_lines(output.splitlines())}") from None
    return latency, {}, usage


def result(
    *,
    experiment: str,
    target: str,
    round_: int,
    driver: str,
    load: Load,
    workers: int,
    figures: Figures,
    artifacts: Mapping[str, str],
) -> RunResult:
    """Bundle a driver's figures with what was measured into a :class:`RunResult`."""
    latency, endpoints, usage = figures
    return RunResult(
        experiment=experiment,
        target=target,
        round=round_,
        driver=driver,
        users=load.users,
        workers=workers,
        duration_s=load.duration_s,
        latency=latency,
        usage=usage,
        endpoints=endpoints,
        artifacts=dict(artifacts),
    )
