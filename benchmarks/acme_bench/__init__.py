"""The acme benchmark runner: stacks, load drivers, resource accounting and reports.

Run it through hatch's ``bench`` environment (``hatch run bench:report``);
benchmarks/README.md describes every command.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["BENCH_DIR", "REPO_DIR", "RESULTS_DIR", "BenchError"]

BENCH_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"  # every run's directory, and the versions' venvs


class BenchError(RuntimeError):
    """A benchmark could not run; the message says why."""
