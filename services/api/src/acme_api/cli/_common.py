"""What every ``acme-api`` command shares: settings, logging, the migrator."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from acme.core.config import load_settings
from acme.core.logging import configure_logging
from acme.core.migrations import Migrator
from acme_api.settings import Settings

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Subparsers = argparse._SubParsersAction

__all__ = ["Command", "Subparsers", "load", "migrator", "setup_logging", "until_stopped"]

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
