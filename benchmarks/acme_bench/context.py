"""What a run knows about itself: where it writes, the machine, the code, the load on it."""

from __future__ import annotations

import datetime as dt
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .paths import BENCH_DIR, REPO_DIR

__all__ = ["REPO_DIR", "busy_processes", "git_describe", "machine", "new_run_dir"]

RESULTS_DIR = BENCH_DIR / "results"


def new_run_dir(kind: str, out: Path | None) -> Path:
    """``out``, or a fresh ``benchmarks/results/<kind>-<UTC time>`` directory."""
    if out is None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        out = RESULTS_DIR / f"{kind}-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    return out


def git_describe(ref: str = "HEAD") -> str:
    """``<short sha> (<subject>)``, with ``+ uncommitted changes`` when the tree is dirty."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(REPO_DIR), *args], capture_output=True, text=True, check=False
        ).stdout.strip()

    sha = git("rev-parse", "--short", ref) or "unknown"
    subject = git("log", "-1", "--format=%s", ref)
    dirty = ref == "HEAD" and bool(git("status", "--porcelain", "--untracked-files=no"))
    return f"{sha} ({subject})" + (" + uncommitted changes" if dirty else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> str:
    """A one-line description of the machine."""
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({_cpu_model()}){memory}, {platform.platform()}"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"


def busy_processes(limit: int = 3) -> str:
    """The busiest other processes right now, as ``ps`` shows them (for the report)."""
    completed = subprocess.run(
        ["ps", "-eo", "pcpu,comm", "--sort=-pcpu", "--no-headers"],
        capture_output=True,
        text=True,
        check=False,
    )
    rows = [line.split(None, 1) for line in completed.stdout.splitlines() if line.strip()]
    mine = {"ps"}
    busy = [f"{name.strip()} {cpu}%" for cpu, name in rows if name.strip() not in mine]
    return ", ".join(busy[:limit]) or "none"


def command_line(argv: Sequence[str] | None = None) -> str:
    args = list(sys.argv[1:] if argv is None else argv)
    return "python -m acme_bench " + shlex.join(args)


def base_meta(argv: Sequence[str] | None, extra: Mapping[str, Any]) -> dict[str, Any]:
    """The context every report starts with."""
    return {
        "command": f"`{command_line(argv)}`",
        "code": git_describe(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "load before": f"{load_average()}; busiest: {busy_processes()}",
        **extra,
    }
