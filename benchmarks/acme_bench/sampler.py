"""Resource accounting with psutil: CPU and peak memory of everyone in a measurement.

A background thread samples every process of interest a few times a second:
the application server's processes (master and workers, found afresh each
time so a replaced worker is counted too), nginx's, the load generator's,
the PostgreSQL backends serving the benchmark's database (recognised by
their process title, which names the database) and the whole machine's busy
time, so a report can say how much of the CPU went to other people's work.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil

from .stats import ProcessUsage, Usage

__all__ = ["ResourceSampler", "process_tree"]


@dataclass
class _Tracked:
    role: str
    first_cpu: float
    last_cpu: float
    peak_rss: int


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def _hwm_bytes(pid: int) -> int:
    """The kernel's own peak resident set (VmHWM) of a process, 0 if unknown."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def process_tree(root_pid: int | None) -> list[psutil.Process]:
    """A process and all its descendants (empty when it is gone or not started)."""
    if root_pid is None:
        return []
    try:
        root = psutil.Process(root_pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


@dataclass
class _Group:
    roots: Callable[[], list[psutil.Process]]
    classify: Callable[[psutil.Process, int], str]
    tracked: dict[int, _Tracked] = field(default_factory=dict)

    def sample(self, index: int) -> None:
        for process in self.roots():
            try:
                cpu = _cpu(process)
                rss = int(process.memory_info().rss)
            except psutil.Error:
                continue
            entry = self.tracked.get(process.pid)
            if entry is None:
                # Seen at the start: count from here. Seen later: born during
                # the window, so all of its CPU belongs to it.
                first = cpu if index == 0 else 0.0
                self.tracked[process.pid] = _Tracked(self.classify(process, index), first, cpu, rss)
            else:
                entry.last_cpu = cpu
                entry.peak_rss = max(entry.peak_rss, rss)

    def rebase(self) -> None:
        """Count every known process from its CPU time now."""
        for entry in self.tracked.values():
            entry.first_cpu = entry.last_cpu

    def usage(self) -> tuple[ProcessUsage, ...]:
        return tuple(
            ProcessUsage(
                pid=pid,
                role=t.role,
                cpu_seconds=max(0.0, t.last_cpu - t.first_cpu),
                peak_rss_bytes=max(t.peak_rss, _hwm_bytes(pid)),
            )
            for pid, t in sorted(self.tracked.items())
        )


class ResourceSampler:
    """Samples CPU and memory from :meth:`start` until :meth:`stop`.

    Args:
        server_pid: The gunicorn master (its children are the workers).
        proxy_pid: nginx's master, when nginx is in front.
        loadgen_pid: The load generator (locust's main process or wrk).
        database: The database name whose PostgreSQL backends are counted.
        interval: Seconds between samples.
    """

    def __init__(
        self,
        *,
        server_pid: int | None,
        proxy_pid: int | None = None,
        loadgen_pid: int | None = None,
        database: str | None = None,
        interval: float = 0.25,
    ) -> None:
        self.interval = interval
        self._database = database
        self._server = _Group(
            lambda: process_tree(server_pid),
            lambda p, _: "master" if p.pid == server_pid else "worker",
        )
        self._proxy = _Group(
            lambda: process_tree(proxy_pid),
            lambda p, _: "master" if p.pid == proxy_pid else "worker",
        )
        self._loadgen = _Group(lambda: process_tree(loadgen_pid), lambda _p, _i: "loadgen")
        self._postgres = _Group(self._postgres_backends, lambda _p, _i: "postgres")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0.0
        self._stopped = 0.0
        self._system_start = 0.0
        self._system_end = 0.0

    def attach_loadgen(self, pid: int) -> None:
        """Start following the load generator once it has been spawned."""
        self._loadgen.roots = lambda: process_tree(pid)

    def _postgres_backends(self) -> list[psutil.Process]:
        if not self._database:
            return []
        marker = f" {self._database} "
        found = []
        for process in psutil.process_iter(["name", "cmdline"]):
            try:
                if process.info["name"] != "postgres":
                    continue
                title = " ".join(process.info["cmdline"] or ()) + " "
            except psutil.Error:
                continue
            if marker in title:
                found.append(process)
        return found

    @staticmethod
    def _system_busy() -> float:
        times = psutil.cpu_times()
        return float(times.user + times.nice + times.system + times.irq + times.softirq)

    def _groups(self) -> tuple[_Group, ...]:
        return (self._server, self._proxy, self._loadgen, self._postgres)

    def sample(self, index: int = 1) -> None:
        """Take one sample now (the thread calls this; tests may too)."""
        for group in self._groups():
            group.sample(index)

    def _run(self) -> None:
        index = 1
        while not self._stop.wait(self.interval):
            self.sample(index)
            index += 1

    def start(self) -> None:
        """Record the starting point of every counter and begin sampling."""
        self._started = time.monotonic()
        self._system_start = self._system_busy()
        self.sample(0)
        self._thread = threading.Thread(target=self._run, name="resource-sampler", daemon=True)
        self._thread.start()

    def rebase(self) -> None:
        """Start the window again from now (the load generator has begun its load)."""
        self.sample(0)
        for group in self._groups():
            group.rebase()
        self._started = time.monotonic()
        self._system_start = self._system_busy()

    @property
    def stopped(self) -> bool:
        return self._stopped > 0

    def stop(self) -> Usage:
        """Take a last sample and return what was used since the window began."""
        if self.stopped:
            return self.usage()
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample(-1)
        self._stopped = time.monotonic()
        self._system_end = self._system_busy()
        return self.usage()

    def usage(self) -> Usage:
        """The figures so far (the progress line reads them while a run goes on)."""
        end = self._stopped or time.monotonic()
        system_end = self._system_end or self._system_busy()
        return Usage(
            wall_seconds=end - self._started,
            server=self._server.usage(),
            proxy=self._proxy.usage(),
            loadgen=self._loadgen.usage(),
            postgres_cpu_seconds=sum(p.cpu_seconds for p in self._postgres.usage()),
            system_busy_seconds=system_end - self._system_start,
        )
