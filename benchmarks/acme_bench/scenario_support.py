"""What every locust scenario shares: tokens, the dataset description, CPU hooks.

The runner writes, before locust starts:

- ``ACME_BENCH_TOKENS``: a file of access tokens, one a line, issued with
  ``acme-api token issue --account NAME`` (line *i* belongs to account *i*);
- ``ACME_BENCH_DATASET``: a JSON description of the seeded data (see
  :mod:`acme_bench.dataset`), so scenarios ask for rows that exist.

Users pick their token in ``on_start``; nothing bypasses authentication.
"""

from __future__ import annotations

import itertools
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from . import loadgen_cpu

__all__ = ["dataset", "install_hooks", "next_account", "tokens"]

_accounts = itertools.count()


@cache
def tokens() -> tuple[str, ...]:
    """The access tokens of the benchmark accounts, in account order."""
    path = os.environ.get("ACME_BENCH_TOKENS")
    if not path:
        return ()
    return tuple(t for t in Path(path).read_text(encoding="ascii").split() if t)


@cache
def dataset() -> dict[str, Any]:
    """The seeded dataset's description (empty when the run has none)."""
    path = os.environ.get("ACME_BENCH_DATASET")
    if not path:
        return {}
    data: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return data


def next_account() -> int:
    """The account index the next user of this process takes (round robin).

    With ``--processes`` each process starts at its own offset, so users
    spread over the accounts whatever the process count.
    """
    count = max(1, len(tokens()))
    return (next(_accounts) + os.getpid()) % count


def install_hooks(events: Any) -> None:
    """What every locustfile of the runner needs.

    Logs this process's CPU at the start and stop of the load (see
    :mod:`acme_bench.loadgen_cpu`) and flushes the stats history every
    second, so the runner's progress line is current.
    """
    import locust.stats

    locust.stats.CSV_STATS_FLUSH_INTERVAL_SEC = 1

    def _start(**_: Any) -> None:
        loadgen_cpu.record("start")

    def _stop(**_: Any) -> None:
        loadgen_cpu.record("stop")

    events.test_start.add_listener(_start)
    events.test_stop.add_listener(_stop)
