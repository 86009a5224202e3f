"""What every ``acme-api`` command shares: settings, logging, the migrator."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

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
    "Subparsers",
    "add_metrics_bind",
    "load",
    "migrator",
    "run_serving_metrics",
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


def metrics_address(value: str) -> str:
    """``HOST:PORT`` (an empty host is every address), for ``--metrics-bind``."""
    host, colon, port = value.rpartition(":")
    if not colon or not port.isdigit() or not 0 < int(port) < 65536 or " " in host:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT with a port 1-65535, got {value!r}")
    return value


def add_metrics_bind(parser: argparse.ArgumentParser, serves: str) -> None:
    parser.add_argument(
        "--metrics-bind",
        type=metrics_address,
        metavar="HOST:PORT",
        help=f"serve {serves} as Prometheus metrics on this address (GET /metrics); "
        "each process needs an address of its own",
    )


def run_serving_metrics(
    settings: Settings,
    bind: str | None,
    main: Callable[[PipelineMetrics | None], Coroutine[Any, Any, int]],
) -> int:
    """Run ``main`` (``relay``, ``consume``) with the event pipeline's metrics served on
    ``bind``; ``None`` is handed to it when no address is given or metrics are off.

    The address is an option of the command, not ``ACME_METRICS_BIND``: processes that
    share the API's environment would all claim the gunicorn master's address. One that
    cannot be listened on (in use, say) is exit code 2 with the reason.
    """
    if bind is None or not settings.metrics_enabled:
        return asyncio.run(main(None))
    from prometheus_client import CollectorRegistry

    from acme_api.metrics import MetricsListener
    from acme_api.pipeline_metrics import PipelineMetrics

    registry = CollectorRegistry(auto_describe=True)
    # relay and consume need RabbitMQ: the dead letters are the broker's, shared.
    pipeline = PipelineMetrics(registry, shared_dead_letters=True)
    try:
        listener = MetricsListener.start(bind, registry)
    except (OSError, OverflowError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"acme-api: cannot serve metrics on {bind}: {reason}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(main(pipeline))
    finally:
        listener.stop()
