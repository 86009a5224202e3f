"""asyncpg's own pool beside SQLAlchemy's, for the statements that run on their own.

A statement that is a whole transaction by itself (a hot read, a write and
its outbox rows in one statement) needs none of what SQLAlchemy's
connection brings: checking a connection out of SQLAlchemy's pool and back
costs more CPU than the round trip, most of it in a greenlet spawned for
each step. Such a unit of work (see :class:`~.unit_of_work.SqlUnitOfWork`'s
``open_on_demand``) takes a connection from this pool instead, and only
opens a SQLAlchemy connection if it needs one after all.

The pool opens connections on demand (none at start) up to its size, with
the same server settings and statement-cache choice as SQLAlchemy's, and
closes those idle for longer than ``idle_after`` seconds. There is no ping
on checkout: a connection that meets a database restart fails its statement
once (:class:`~acme.core.errors.Unavailable`, which says to retry) and is
replaced. Connections are
handed back without asyncpg's reset query (one round trip per use): only
single statements in autocommit run on them, so nothing is left to reset,
and one still in a transaction is reset as asyncpg would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any
from weakref import WeakKeyDictionary

from pydantic_core import from_json
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["DriverPool", "driver_pool", "register_driver_pool"]

# Options of SQLAlchemy's asyncpg dialect that asyncpg.connect does not take.
_SQLALCHEMY_OPTIONS = ("prepared_statement_cache_size", "prepared_statement_name_func")


class DriverPool:
    """An asyncpg pool made on first use (``asyncpg`` imported only then)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        size: int,
        timeout: float,
        idle_after: float,
        connect_args: Mapping[str, Any],
    ) -> None:
        # What SQLAlchemy's dialect passes to asyncpg.connect for this URL (host,
        # credentials, ``ssl`` and other query options), less its own options.
        _, url_args = engine.dialect.create_connect_args(engine.url)
        for own in _SQLALCHEMY_OPTIONS:
            url_args.pop(own, None)
        self._connect_args = {**url_args, **connect_args}
        self.size = size
        self.timeout = timeout
        self._idle_after = idle_after
        self._pool: Any = None
        self._lock = asyncio.Lock()

    async def _ready(self) -> Any:
        if self._pool is None:
            async with self._lock:
                if self._pool is None:
                    import asyncpg

                    self._pool = await asyncpg.create_pool(
                        min_size=0,
                        max_size=self.size,
                        max_inactive_connection_lifetime=self._idle_after,
                        init=_json_codec,
                        reset=_reset_if_needed,
                        **self._connect_args,
                    )
        return self._pool

    async def acquire(self) -> Any:
        """A connection (release it with :meth:`release`); waits ``timeout`` seconds at most.

        Raises:
            OSError, TimeoutError, asyncpg.PostgresError: none could be had.
        """
        pool = await self._ready()
        return await pool.acquire(timeout=self.timeout)

    async def release(self, connection: Any) -> None:
        """Hand ``connection`` back (a broken one is closed and replaced on a later acquire)."""
        await self._pool.release(connection)

    async def close(self) -> None:
        """Close every connection; the pool opens new ones if used again."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()


async def _json_codec(connection: Any) -> None:
    # ``json`` and ``jsonb`` arrive parsed and go out as the JSON text SQLAlchemy's
    # bind processing made, as on SQLAlchemy's own connections (Database's deserializer).
    for name in ("json", "jsonb"):
        await connection.set_type_codec(
            name, encoder=str, decoder=from_json, schema="pg_catalog", format="text"
        )


async def _reset_if_needed(connection: Any) -> None:
    if connection.is_in_transaction():
        await connection.reset()


_POOLS: WeakKeyDictionary[AsyncEngine, DriverPool] = WeakKeyDictionary()


def register_driver_pool(engine: AsyncEngine, pool: DriverPool) -> None:
    """Units of work on ``engine`` that open on demand take their connections from ``pool``."""
    _POOLS[engine] = pool


def driver_pool(engine: AsyncEngine) -> DriverPool | None:
    """The pool registered for ``engine`` (``None``: none, the unit of work opens as before)."""
    return _POOLS.get(engine)
