"""Where the benchmark files live."""

from __future__ import annotations

from pathlib import Path

__all__ = ["BENCH_DIR", "REPO_DIR"]

BENCH_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = BENCH_DIR.parent
