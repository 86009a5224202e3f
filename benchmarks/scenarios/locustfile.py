"""The benchmark scenarios, in locust's language (run them with ``python -m acme_bench``).

Every user is a ``FastHttpUser`` with no wait time: a fixed number of users
each keep one request in flight, so throughput is what the server sustains at
that concurrency. Users authenticate with real access tokens issued before
the run (see :mod:`acme_bench.scenario_support`).
"""

from __future__ import annotations

from locust import constant, events, task
from locust.contrib.fasthttp import FastHttpUser

from acme_bench.scenario_support import install_hooks

install_hooks(events)


class Health(FastHttpUser):
    """Liveness only: the stack's bare request cost (and a check of the machinery)."""

    wait_time = constant(0)

    @task
    def live(self) -> None:
        self.client.get("/health/live")
