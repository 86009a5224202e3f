"""What every ``acme-api`` command shares: settings, logging, the migrator."""

from __future__ import annotations

import argparse
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

__all__ = ["Command", "Subparsers", "load", "migrator", "setup_logging"]

Command = Callable[[argparse.Namespace, Settings], int]


def load() -> Settings:
    return load_settings(Settings)


def setup_logging(settings: Settings) -> None:
    configure_logging(env=settings.env, level=settings.log_level, fmt=settings.log_format)


def migrator(settings: Settings) -> Migrator:
    return Migrator(settings.database_url.get_secret_value())
