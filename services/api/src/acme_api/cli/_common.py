"""What every ``acme-api`` command shares: settings, logging, the migrator."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from acme.core.config import load_settings
from acme.core.logging import configure_logging
from acme.core.migrations import Migrator
from acme_api.settings import Settings

if TYPE_CHECKING:
    from acme_api.pipeline_metrics import PipelineMetrics

    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Subparsers = argparse._SubParsersAction

__all__ = [
    "Command",
    "MetricsUnavailable",
    "Subparsers",
    "load",
    "migrator",
    "pipeline_metrics",
    "setup_logging",
    "until_stopped",
]

Command = Callable[[argparse.Namespace, Settings], int]


def load() -> Settings:
    return load_settings(Settings)


def setup_logging(settings: Settings) -> None:
    configure_logging(env=settings.env, level=settings.log_level, fmt=settings.log_format)


def migrator(settings: Settings) -> Migrator:
    return Migrator(settings.database_url.get_secret_value())


async def until_stopped(doing: str) -> None:
    """Say what the process is ``doing`` on standard error, then wait for SIGINT or SIGTERM
    (the long-running commands: ``relay``, ``consume``)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"{doing}; stop with Ctrl-C or SIGTERM", file=sys.stderr)
    await stop.wait()


class MetricsUnavailable(Exception):
    """``ACME_METRICS_BIND`` cannot be listened on; the message says why."""


@contextlib.contextmanager
def pipeline_metrics(settings: Settings) -> Iterator[PipelineMetrics | None]:
    """The event pipeline's metrics of a process apart from the API (``relay``, ``consume``),
    served on ``ACME_METRICS_BIND``; ``None`` when metrics are off or that is unset (such
    a process has no other listener to serve them on).

    Raises:
        MetricsUnavailable: the address cannot be listened on (in use, say).
    """
    if not (settings.metrics_enabled and settings.metrics_bind):
        yield None
        return
    from prometheus_client import CollectorRegistry

    from acme_api.metrics import MetricsListener
    from acme_api.pipeline_metrics import PipelineMetrics

    registry = CollectorRegistry(auto_describe=True)
    # relay and consume need RabbitMQ: the dead letters are the broker's, shared.
    pipeline = PipelineMetrics(registry, shared_dead_letters=True)
    try:
        listener = MetricsListener.start(settings.metrics_bind, registry)
    except OSError as exc:
        raise MetricsUnavailable(
            f"cannot serve metrics on ACME_METRICS_BIND={settings.metrics_bind}: {exc.strerror}"
        ) from None
    try:
        yield pipeline
    finally:
        listener.stop()
