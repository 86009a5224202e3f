"""What every locust scenario shares: tokens, the dataset, the runner's hooks.

The runner hands locust, by environment: ``ACME_BENCH_TOKENS``, the file of
access tokens (line *i* is account *i*'s); ``ACME_BENCH_DATASET``, the seeded
data's description, so scenarios ask for rows that exist; ``ACME_BENCH_WATCH``,
the processes to account; ``ACME_BENCH_SUMMARY``, where the figures go.
"""

from __future__ import annotations

import itertools
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

_accounts = itertools.count()


@cache
def tokens() -> tuple[str, ...]:
    """The access tokens of the benchmark accounts, in account order."""
    path = os.environ.get("ACME_BENCH_TOKENS")
    return tuple(Path(path).read_text(encoding="ascii").split()) if path else ()


@cache
def dataset() -> dict[str, Any]:
    """The seeded dataset's description (empty when the run has none)."""
    path = os.environ.get("ACME_BENCH_DATASET")
    found: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8")) if path else {}
    return found


def next_account() -> int:
    """The account the next user of this process takes (round robin, each process from
    its own offset, so users spread over the accounts whatever ``--processes`` is)."""
    return (next(_accounts) + os.getpid()) % max(1, len(tokens()))


def install_hooks(events: Any) -> None:
    """Account the load window and write the run's figures, from locust's own hooks.

    On the master (or the only process), ``test_start`` and ``test_stop`` take
    the CPU snapshots (this process and its ``--processes`` workers being the
    load generator), so locust's start-up and shut-down count for nobody; at
    ``quitting``, the stats final, locust's aggregate figures and the CPU used
    go to ``ACME_BENCH_SUMMARY``.
    """
    from locust.runners import WorkerRunner

    from .drivers import Snapshot, snapshot, usage

    watch = json.loads(os.environ.get("ACME_BENCH_WATCH", "null"))
    taken: dict[str, Snapshot] = {}

    def take(moment: str) -> Any:
        def listener(environment: Any, **_: Any) -> None:
            if watch is not None and not isinstance(environment.runner, WorkerRunner):
                taken[moment] = snapshot(**watch, loadgen=os.getpid())

        return listener

    def write(environment: Any, **_: Any) -> None:
        if len(taken) < 2 or isinstance(environment.runner, WorkerRunner):
            return
        total = environment.stats.total
        latency = {
            "requests": total.num_requests,
            "failures": total.num_failures,
            "rps": total.total_rps,
        }
        for q in (50, 95, 99) if total.num_requests else ():
            latency[f"p{q}_ms"] = total.get_response_time_percentile(q / 100)
        figures = {"latency": latency, "usage": usage(taken["start"], taken["stop"])}
        Path(os.environ["ACME_BENCH_SUMMARY"]).write_text(json.dumps(figures))

    events.test_start.add_listener(take("start"))
    events.test_stop.add_listener(take("stop"))
    events.quitting.add_listener(write)
