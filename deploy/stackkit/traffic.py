"""Load for the deploy tests: client threads sending requests back to back, every outcome kept."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Outcome:
    """One request of a load run: when it started and ended, and how it ended."""

    started: float
    ended: float
    status: int | None
    error: str | None = None
    body: str = ""


def load(
    send: Callable[[httpx.Client], httpx.Response],
    *,
    base_url: str,
    clients: int,
    stop: threading.Event,
    max_seconds: float,
) -> tuple[list[Outcome], list[threading.Thread]]:
    """Start ``clients`` threads sending requests back to back until ``stop`` (or the time limit).

    Returns the shared list of outcomes and the threads to join.
    """
    outcomes: list[Outcome] = []
    deadline = time.monotonic() + max_seconds

    def run() -> None:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            while not stop.is_set() and time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    response = send(client)
                    status: int | None = response.status_code
                    error, body = None, response.text[:2000]
                except httpx.HTTPError as exc:
                    status, error, body = None, f"{type(exc).__name__}: {exc}", ""
                outcomes.append(Outcome(started, time.monotonic(), status, error, body))

    threads = [threading.Thread(target=run, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    return outcomes, threads
