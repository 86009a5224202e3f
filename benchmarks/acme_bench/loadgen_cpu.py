"""The load generator's own CPU over exactly the load window.

Each locust process (the master and every ``--processes`` worker) appends one
JSON line at ``test_start`` and one at ``test_stop`` with its own CPU time, to
the file named by ``ACME_BENCH_CPU_LOG``. Summing the per-process differences
leaves out locust's start-up and shut-down, which psutil sampling of the
process tree cannot separate from the load itself.

Pure standard library: the scenarios import it inside locust, the tests without it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from pathlib import Path

__all__ = ["ENV_VAR", "count_events", "read_window_cpu", "record", "window_cpu_seconds"]

ENV_VAR = "ACME_BENCH_CPU_LOG"


def record(event: str) -> None:
    """Append this process's CPU time under ``event`` (``start`` or ``stop``)."""
    path = os.environ.get(ENV_VAR)
    if not path:
        return
    line = json.dumps(
        {"pid": os.getpid(), "event": event, "cpu": time.process_time(), "t": time.time()}
    )
    with open(path, "a", encoding="utf-8") as log:
        log.write(line + "\n")


def _entries(lines: Iterable[str]) -> Iterable[tuple[int, str, float]]:
    for line in lines:
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            yield int(entry["pid"]), str(entry["event"]), float(entry["cpu"])
        except (ValueError, KeyError, TypeError):
            continue  # a line being written while we read


def count_events(lines: Iterable[str]) -> tuple[int, int]:
    """How many processes have logged ``start`` and ``stop`` so far."""
    starts = stops = 0
    for _, event, _ in _entries(lines):
        starts += event == "start"
        stops += event == "stop"
    return starts, stops


def window_cpu_seconds(lines: Iterable[str]) -> float | None:
    """CPU seconds all processes spent between their start and stop lines.

    ``None`` when no process logged both (the log is missing or the run broke).
    """
    starts: dict[int, float] = {}
    total = 0.0
    paired = False
    for pid, event, cpu in _entries(lines):
        if event == "start":
            starts[pid] = cpu
        elif event == "stop" and pid in starts:
            total += max(0.0, cpu - starts.pop(pid))
            paired = True
    return total if paired else None


def read_window_cpu(path: Path) -> float | None:
    """:func:`window_cpu_seconds` of a log file (``None`` if it does not exist)."""
    if not path.exists():
        return None
    return window_cpu_seconds(path.read_text(encoding="utf-8").splitlines())
