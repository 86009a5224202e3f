"""Load drivers, locust (the scenario language) and wrk (the light one for saturation),
and the accounting of their load window.

A driver runs one measurement against a running stack and returns the load
generator's own summary (requests, failures, requests/s, latency percentiles) and
the CPU every role used, from two psutil snapshots at the window's start and end.
A snapshot reads each role's processes (``server``: gunicorn, ``proxy``: nginx,
``loadgen``, ``postgres``: the backends whose process title names the benchmark
database) and the machine's busy time; what the roles did not use of it is others'
work. Locust's own ``test_start`` and ``test_stop`` hooks take the snapshots for a
locust run (scenario_support), the runner around wrk's process for a wrk run.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psutil

from . import BENCH_DIR, BenchError

LATENCY = ("requests", "failures", "rps", "p50_ms", "p95_ms", "p99_ms")
Figures = tuple[dict[str, float], dict[str, float]]  # latency, CPU usage


def debian_tool(program: str) -> str:
    """The path of ``program``; as root on Debian, ``apt-get install``-ed first if missing."""
    if not shutil.which(program, path=f"{os.environ.get('PATH')}:/usr/sbin") and os.geteuid() == 0:
        print(f"{program} is not installed: apt-get install {program}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["update", "-q"], ["install", "-y", "-q", program]):
            subprocess.run(["apt-get", *command], env=env, capture_output=True, check=False)
    found = shutil.which(program, path=f"{os.environ.get('PATH')}:/usr/sbin")
    if found is None:
        raise BenchError(f"{program} is not installed: apt-get install {program}")
    return found


@dataclass(frozen=True, slots=True)
class Snapshot:
    """CPU seconds by role and process id, the machine's busy seconds, the workers' peak
    resident set so far, and when."""

    at: float
    cpu: dict[str, dict[int, float]]
    busy: float
    peak_worker_rss_mb: float


def tree(pid: int | None) -> list[psutil.Process]:
    """A process and all its descendants (none when it is gone or not started)."""
    import psutil  # the bench environment's; the unit tests import this module without it

    try:
        root = psutil.Process(pid) if pid else None
        return [root, *root.children(recursive=True)] if root else []
    except psutil.Error:
        return []


def cpu_seconds(processes: list[psutil.Process]) -> dict[int, float]:
    """Each process's CPU time so far (user and system), by process id."""
    import psutil

    found = {}
    for process in processes:
        try:
            found[process.pid] = sum(process.cpu_times()[:2])
        except psutil.Error:
            continue
    return found


def _peak_rss_mb(process: psutil.Process) -> float:
    """The kernel's own peak resident set of a process (VmHWM), 0 if unknown."""
    try:
        status = Path(f"/proc/{process.pid}/status").read_text(encoding="ascii").splitlines()
    except OSError:
        return 0.0
    return next((int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:")), 0.0)


def snapshot(
    *,
    server: int | None,
    proxy: int | None,
    database: str,
    loadgen: int = 0,
    apart: Sequence[int] = (),
) -> Snapshot:
    """Every role's CPU now; roles are given by their root process (or database). The
    server's processes ``apart`` (the relay and consumers run on their own) count as the
    server's CPU, not as its workers' memory."""
    import psutil

    servers = tree(server)
    postgres = [
        p
        for p in psutil.process_iter(["name", "cmdline"])
        if p.info["name"] == "postgres" and database in " ".join(p.info["cmdline"] or ()).split()
    ]
    roles = {
        "server": servers + [p for pid in apart for p in tree(pid)],
        "proxy": tree(proxy),
        "loadgen": tree(loadgen),
        "postgres": postgres,
    }
    times = psutil.cpu_times()
    # steal: time the hypervisor gave to other machines while this one had work to run
    busy = times.user + times.nice + times.system + times.irq + times.softirq + times.steal
    peak = max((_peak_rss_mb(p) for p in servers[1:]), default=0.0)  # the workers
    return Snapshot(time.monotonic(), {r: cpu_seconds(p) for r, p in roles.items()}, busy, peak)


def usage(before: Snapshot, after: Snapshot, *, loadgen: float | None = None) -> dict[str, float]:
    """CPU seconds by role between two snapshots, and ``others``' (the busy time nobody
    in the benchmark accounts for); the window's ``wall`` seconds and the workers' peak
    RSS. A process seen only at the end was born in the window and counts whole;
    ``loadgen`` replaces the load generator's figure (wrk's, which has exited by then)."""
    used = {}
    for role, now in after.cpu.items():
        used[role] = sum(max(0.0, cpu - before.cpu[role].get(pid, 0.0)) for pid, cpu in now.items())
    if loadgen is not None:
        used["loadgen"] = loadgen
    used["others"] = max(0.0, after.busy - before.busy - sum(used.values()))
    return used | {"wall": after.at - before.at, "peak_worker_rss_mb": after.peak_worker_rss_mb}


@dataclass(frozen=True, slots=True)
class Load:
    """How hard and how long to drive a stack: ``scenario`` is a locust user class
    (``scenarios/locustfile.py``), or for wrk the name of a request list."""

    scenario: str
    users: int = 32
    spawn_rate: float = 32.0
    duration_s: float = 20.0
    processes: int = 1
    wrk_threads: int = 1


def _run(command: list[str], log: Path, env: Mapping[str, str] | None = None) -> str:
    """Run ``command``, its output into ``log``; the output (BenchError if it failed)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env, check=False)
    text = log.read_text(errors="replace")
    if done.returncode != 0:
        raise BenchError(f"{Path(command[0]).name} exited with {done.returncode}:\n{text[-2000:]}")
    return text


def _latency(found: Mapping[str, Any]) -> dict[str, float]:
    return {key: float("nan") if found.get(key) is None else float(found[key]) for key in LATENCY}


def run_locust(
    *, url: str, load: Load, out: Path, env: Mapping[str, str], watch: Mapping[str, Any]
) -> Figures:
    """Run locust headless: its own CSV files and HTML report under ``out``; the figures
    and the CPU used from the runner's hooks in it (:mod:`.scenario_support`)."""
    summary = out.with_name(out.name + "_summary.json")
    summary.unlink(missing_ok=True)
    command = [sys.executable, "-m", "locust", "-f", str(BENCH_DIR / "scenarios" / "locustfile.py")]
    command += ["--headless", "--host", url, "--users", str(load.users)]
    command += ["--spawn-rate", str(load.spawn_rate), "--run-time", f"{load.duration_s:g}s"]
    command += ["--stop-timeout", "5", "--csv", str(out), "--html", f"{out}.html", "--only-summary"]
    command += ["--loglevel", "WARNING", "--exit-code-on-error", "0"]
    command += ["--processes", str(load.processes)] if load.processes > 1 else []
    hooks = {"ACME_BENCH_SUMMARY": str(summary), "ACME_BENCH_WATCH": json.dumps(watch)}
    log = out.with_name(out.name + "_locust.log")
    output = _run([*command, load.scenario], log, {**os.environ, **env, **hooks})
    if not summary.exists():
        raise BenchError(f"locust wrote no figures to {summary}:\n{output[-2000:]}")
    figures = json.loads(summary.read_text())
    return _latency(figures["latency"]), figures["usage"]


def parse_wrk_summary(output: str) -> dict[str, float]:
    """The figures ``wrk/replay.lua``'s ``done()`` prints on its ``ACME_BENCH_WRK`` line."""
    lines = [line for line in output.splitlines() if line.startswith("ACME_BENCH_WRK ")]
    if not lines:
        raise BenchError("wrk printed no ACME_BENCH_WRK line (was wrk/replay.lua loaded?)")
    return _latency(json.loads(lines[-1].removeprefix("ACME_BENCH_WRK ")))


def run_wrk(
    *, url: str, load: Load, out: Path, tokens: Path, requests: Path, watch: Mapping[str, Any]
) -> Figures:
    """Replay the request list ``requests`` with wrk at ``load.users`` connections; its CPU
    is that of the one child process the runner waits for meanwhile."""
    threads = str(max(1, min(load.wrk_threads, load.users)))
    command = [debian_tool("wrk"), "-t", threads, "-c", str(load.users)]
    command += [
        "-d",
        f"{load.duration_s:g}s",
        "--timeout",
        "10s",
        "-s",
        str(BENCH_DIR / "wrk" / "replay.lua"),
        url,
        "--",
    ]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    before = snapshot(**watch)
    output = _run([*command, str(tokens), str(requests)], out.with_name(out.name + "_wrk.log"))
    after, done = snapshot(**watch), resource.getrusage(resource.RUSAGE_CHILDREN)
    own = done.ru_utime + done.ru_stime - children.ru_utime - children.ru_stime
    return parse_wrk_summary(output), usage(before, after, loadgen=own)
