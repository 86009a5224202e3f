"""Experiments: the same load against several targets, in interleaved rounds.

A target is an ASGI app served as production serves it (``gunicorn -c
python:acme_api.gunicorn_conf``, optionally behind nginx with the production
edge configuration), by ``stackkit`` (deploy/stackkit), the launcher the deploy
tests use too. All targets start first; the rounds go in pairs, one measuring
them in order A, B, ..., the other in reverse (at random which comes first), so
drift from other work on the machine hits every target alike, and a per-round
ratio cancels most of it.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from stackkit import Gunicorn, Nginx, http_ok, wait_ready

from . import BENCH_DIR, BenchError
from .drivers import Figures, Load, cpu_seconds, debian_tool, run_locust, run_wrk, tree
from .provision import BenchDatabase, DataFiles, event_latency
from .stats import RunResult, figures

CURRENT_BIN = Path(sys.executable).parent  # the bench environment: the working tree


@dataclass(frozen=True, slots=True)
class AppTarget:
    """One thing to measure: its report label, its database and the files its load
    reads; the environment (``bin``) whose gunicorn serves it, gunicorn's app argument
    (``None``: the API), extra server settings, nginx in front, its own worker count."""

    name: str
    database: BenchDatabase
    files: DataFiles
    bin_dir: Path = CURRENT_BIN
    app_uri: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    nginx: bool = False
    workers: int | None = None
    apart: tuple[str, ...] = ()  # "relay", "consume": run as `acme-api relay` / `consume`


# The event pipeline in processes of its own, in the order they start: the consumers
# first, so their queues exist before the relay publishes.
PIPELINE_APART = ("consume", "relay")


@dataclass(frozen=True, slots=True)
class Stack:
    """A running target: where it answers, and what the accounting watches."""

    url: str
    watch: Mapping[str, Any]


@contextmanager
def serve(
    target: AppTarget, workers: int, env: Mapping[str, str], run_dir: Path
) -> Iterator[Stack]:
    """Start the target's gunicorn (and nginx), wait until it answers ready; stop both after
    (stackkit's StackError, with the log's tail, when a process exits or never answers)."""
    beside = f", {' and '.join(target.apart)} apart" if target.apart else ""
    edge = ", behind nginx" if target.nginx else ""
    print(f"- starting {target.name} ({workers} workers{edge}{beside})")
    # The runner's own apps (floor, noauth) are imported from benchmarks/ by the server.
    path = os.pathsep.join(p for p in (str(BENCH_DIR), os.environ.get("PYTHONPATH")) if p)
    settings = {**env, "ACME_DATABASE_URL": target.database.url(), **target.env, "PYTHONPATH": path}
    if "relay" in target.apart:
        settings["ACME_RELAY_IN_API"] = "false"
    if "consume" in target.apart:
        settings["ACME_CONSUMERS_IN_API"] = "false"
    logs = run_dir / "servers"
    server = Gunicorn(logs, env=settings, workers=workers, bin_dir=target.bin_dir)
    server.app_uri, server.log_name = target.app_uri, f"server-{target.name}.log"
    proxy = None
    apart: list[subprocess.Popen[bytes]] = []
    try:
        server.start()
        assert server.process is not None
        for command in target.apart:  # after the server: its start migrated the database
            apart.append(_start_apart(target, command, settings, logs))
        watch: dict[str, Any] = {"server": server.process.pid, "proxy": None}
        watch |= {"database": target.database.name, "apart": [p.pid for p in apart]}
        if target.nginx:  # every benchmark request comes from one address: no per-client limit
            proxy = Nginx(logs / f"nginx-{target.name}", upstream=server.address, workers=workers)
            proxy.rate_limit, proxy.rate_burst = "1000000r/s", 1000000
            proxy.binary = debian_tool("nginx")
            proxy.start()
            assert proxy.process is not None
            ready, log = http_ok(f"{proxy.url}/health/ready"), proxy.logs / "main-error.log"
            wait_ready(ready, process=proxy.process, log=log, timeout=15, what=proxy.url)
            watch["proxy"] = proxy.process.pid
        yield Stack(proxy.url if proxy else server.url, watch)
    finally:
        for process in apart:  # SIGTERM: each finishes its batch and stops
            process.terminate()
        for process in apart:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if proxy is not None:
            proxy.stop(timeout=30)
        server.stop(timeout=30)


def _start_apart(
    target: AppTarget, command: str, settings: Mapping[str, str], logs: Path
) -> subprocess.Popen[bytes]:
    """``acme-api COMMAND`` (``relay``, ``consume``) on the target's settings, once it
    says it runs (its consumers' queues are declared by then).

    Raises:
        BenchError: it exited, or said nothing in 30 s.
    """
    path = logs / f"{command}-{target.name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as output:
        start = output.tell()  # a restart appends: read only what this one writes
        program = [str(target.bin_dir / "acme-api"), command]
        environment = {**os.environ, **settings}  # as stackkit gives gunicorn
        process = subprocess.Popen(program, env=environment, stdout=output, stderr=output)
    deadline = time.monotonic() + 30
    while b"stop with Ctrl-C or SIGTERM" not in path.read_bytes()[start:]:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise BenchError(f"acme-api {command} did not start: see {path}")
        time.sleep(0.2)
    return process


@dataclass(frozen=True)
class Experiment:
    """One comparison: a load, a driver, the targets (the first is the reference, "A").
    ``restart_every`` rounds every target gets a fresh process (and warm-up), started in
    the other order than the last time, so what a long-lived process happens to be (its
    memory layout, where it runs) does not favour one target all along; ``keep_up=False``
    starts each target for its own measurement only, for targets whose workers' pools
    together would take too many connections."""

    name: str
    title: str
    targets: Sequence[AppTarget]
    load: Load
    driver: str = "locust"
    rounds: int = 3
    warmup_s: float = 5.0
    workers: int = 1
    description: str = ""
    keep_up: bool = True
    restart_every: int = 0


def settle(stacks: Iterable[Stack], *, idle_percent: float = 5.0, limit_s: float = 90.0) -> float:
    """Wait until the stacks have done the work a measurement left behind (the relay and
    consumers go on through what the writes queued: measuring the next target meanwhile
    would charge it for that); the seconds waited, at most ``limit_s``."""
    pids = [stack.watch[role] for stack in stacks for role in ("server", "proxy")]
    pids += [pid for stack in stacks for pid in stack.watch.get("apart", ())]
    started, before = time.monotonic(), -1.0
    while time.monotonic() - started < limit_s:
        now = sum(sum(cpu_seconds(tree(pid)).values()) for pid in pids)
        if 0 <= now - before < idle_percent / 100 * 0.5:
            break
        before = now
        time.sleep(0.5)
    return time.monotonic() - started


def _drive(e: Experiment, target: AppTarget, stack: Stack, load: Load, out: Path) -> Figures:
    files, url, watch = target.files, stack.url, stack.watch
    if e.driver == "locust":
        return run_locust(url=url, load=load, out=out, env=files.locust_env(), watch=watch)
    if load.scenario not in files.requests:
        raise BenchError(f"no wrk request list {load.scenario!r}: one of {sorted(files.requests)}")
    requests = files.requests[load.scenario]
    return run_wrk(url=url, load=load, out=out, tokens=files.tokens, requests=requests, watch=watch)


def run_experiment(e: Experiment, run_dir: Path, env: Mapping[str, str]) -> list[RunResult]:
    """Start the targets, run the interleaved rounds, stop them; one result per run.
    Before each measurement the runner waits for every running stack to go idle."""
    results: list[RunResult] = []
    warm: list[Stack] = []

    def start(target: AppTarget, within: ExitStack) -> Stack:
        return within.enter_context(serve(target, target.workers or e.workers, env, run_dir))

    with ExitStack() as running:
        stacks: dict[str, Stack] = {}
        flip = False
        for round_ in range(1, e.rounds + 1):
            block, first = divmod(round_ - 1, e.restart_every or e.rounds)
            if e.keep_up and first == 0:  # a fresh process for every target: see Experiment
                running.close()
                stacks = {t.name: start(t, running) for t in e.targets[:: -1 if block % 2 else 1]}
            if (
                round_ % 2
            ):  # a pair of rounds runs the targets in both orders, at random which first
                flip = random.random() < 0.5
            for target in e.targets[:: -1 if bool(round_ % 2) == flip else 1]:
                with ExitStack() as this_run:
                    fresh = target.name not in stacks or stacks[target.name] not in warm
                    stack = stacks.get(target.name) or start(target, this_run)
                    waited = settle(stacks.values() or [stack])
                    if waited >= 2:
                        print(f"  (waited {waited:.0f}s for the servers to finish queued work)")
                    out = run_dir / e.name / f"{target.name}_r{round_}"
                    if e.warmup_s > 0 and fresh:
                        warmup = replace(e.load, duration_s=e.warmup_s)
                        _drive(e, target, stack, warmup, out.parent / "warmup" / out.name)
                        warm.append(stack)
                    since = dt.datetime.now(dt.UTC)
                    m = figures(*_drive(e, target, stack, e.load, out))
                    m |= _events(target, stack, since, dt.datetime.now(dt.UTC))
                results.append(RunResult(target.name, round_, m))
                print(
                    f"  => {target.name} r{round_}/{e.rounds}: {m['rps']:.0f} rps, p50"
                    f" {m['p50_ms']:.1f} ms, p99 {m['p99_ms']:.1f} ms, {m['failures']:.0f} failed,"
                    f" server {m['server_cpu_ms_per_req']:.2f} ms CPU/req, others' CPU"
                    f" {m['other_cpu_pct']:.0f} %, peak RSS/worker {m['peak_worker_rss_mb']:.0f} MB"
                )
    return results


def _events(
    target: AppTarget, stack: Stack, since: dt.datetime, until: dt.datetime
) -> dict[str, float]:
    """The latency of the events the measured load wrote, once the stack has handled
    them (see :func:`~.provision.event_latency`); nothing for the runner's own apps (the
    floor writes outbox rows, as the API's SQL does, but runs no relay)."""
    if target.app_uri is not None:
        return {}
    settle([stack])
    found = event_latency(target.database, since, until)
    if found:
        print(
            f"  events: {found['events']:.0f} written, {found['events_handled']:.0f} handled,"
            f" {found['events_pending']:.0f} never published,"
            f" commit to effect p50 {found['event_p50_ms']:.0f} ms, p99"
            f" {found['event_p99_ms']:.0f} ms, longest {found['event_max_ms']:.0f} ms"
        )
    return found
