"""The composition root: the only place that builds concrete adapters.

:func:`build` turns settings into a :class:`Container` at startup (the app's
lifespan or a CLI command); :meth:`Container.aclose` releases everything at
shutdown. Nothing here runs at import time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from acme.core.persistence.database import Database

from .settings import Settings

__all__ = ["Container", "build"]

logger = logging.getLogger(__name__)


@dataclass
class Container:
    """The adapters one process uses, built once from settings."""

    settings: Settings
    database: Database
    draining: bool = field(default=False)

    async def aclose(self) -> None:
        """Dispose of every adapter, in reverse order of construction."""
        await self.database.dispose()


def build_database(settings: Settings) -> Database:
    """The database adapter described by the settings."""
    return Database(
        settings.database_url.get_secret_value(),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        statement_timeout_ms=settings.db_statement_timeout_ms,
        application_name="acme-api",
    )


async def build(settings: Settings) -> Container:
    """Build every adapter the API needs."""
    database = build_database(settings)
    logger.info("database configured: %r", database)
    return Container(settings=settings, database=database)
