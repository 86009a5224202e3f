"""The drain-first worker: its timings and its reaction to SIGTERM."""

from __future__ import annotations

import asyncio
import gc
import signal
from types import SimpleNamespace

import pytest
from uvicorn.config import Config

from acme_api.workers import (
    GC_YOUNG_THRESHOLD,
    DrainingServer,
    ShutdownTimings,
    mark_draining,
    settle_heap,
    shutdown_timings,
)


def test_defaults_leave_gunicorn_time_for_both_stages() -> None:
    assert shutdown_timings({}) == ShutdownTimings(drain=5, in_flight=20, graceful=30)


def test_gunicorn_graceful_timeout_must_exceed_drain_plus_in_flight() -> None:
    with pytest.raises(ValueError, match=r"ACME_GUNICORN_GRACEFUL_TIMEOUT \(25s\) must exceed"):
        shutdown_timings({"ACME_GUNICORN_GRACEFUL_TIMEOUT": "25"})
    assert shutdown_timings(
        {
            "ACME_DRAIN_SECONDS": "1",
            "ACME_SHUTDOWN_TIMEOUT": "2",
            "ACME_GUNICORN_GRACEFUL_TIMEOUT": "4",
        }
    ) == ShutdownTimings(drain=1, in_flight=2, graceful=4)


@pytest.mark.parametrize("raw", ["soon", "-1"])
def test_a_bad_value_is_named(raw: str) -> None:
    with pytest.raises(ValueError, match=f"ACME_DRAIN_SECONDS must .*{raw!r}"):
        shutdown_timings({"ACME_DRAIN_SECONDS": raw})


def app_with_container() -> SimpleNamespace:
    return SimpleNamespace(state=SimpleNamespace(container=SimpleNamespace(draining=False)))


def test_mark_draining_needs_a_started_app() -> None:
    assert mark_draining(SimpleNamespace(state=SimpleNamespace())) is False
    app = app_with_container()
    assert mark_draining(app) is True
    assert app.state.container.draining is True


async def test_sigterm_drains_first_then_exits() -> None:
    app = app_with_container()
    server = DrainingServer(Config(app=app), drain_seconds=0.3)

    server.handle_exit(signal.SIGTERM, None)
    assert server.should_exit is False
    assert await server.on_tick(1) is False
    assert app.state.container.draining is True  # readiness now answers 503

    await asyncio.sleep(0.35)
    assert await server.on_tick(2) is True
    assert server.should_exit is True


async def test_a_second_sigterm_or_a_sigint_stops_at_once() -> None:
    server = DrainingServer(Config(app=app_with_container()), drain_seconds=60)
    server.handle_exit(signal.SIGTERM, None)
    server.handle_exit(signal.SIGTERM, None)
    assert server.should_exit is True

    other = DrainingServer(Config(app=app_with_container()), drain_seconds=60)
    other.handle_exit(signal.SIGINT, None)
    assert other.should_exit is True


async def test_no_drain_period_means_the_plain_uvicorn_stop() -> None:
    server = DrainingServer(Config(app=app_with_container()), drain_seconds=0)
    server.handle_exit(signal.SIGTERM, None)
    assert server.should_exit is True


def test_a_started_worker_freezes_its_heap_and_collects_less_often() -> None:
    threshold = gc.get_threshold()
    try:
        settle_heap()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, threshold[1], threshold[2])
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
