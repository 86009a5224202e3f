"""The alembic environment shared by every component branch.

Driven by :class:`acme.core.migrations.Migrator`, which puts the database URL
in ``config.attributes["url"]``.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from acme.core.migrations._migrator import run_migrations, settled_driver_threads

config = context.config


async def _online() -> None:
    engine = create_async_engine(config.attributes["url"], poolclass=NullPool)
    async with settled_driver_threads():
        try:
            async with engine.connect() as connection:
                await connection.run_sync(run_migrations)
                await connection.commit()
        finally:
            await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.attributes["url"], literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_online())
