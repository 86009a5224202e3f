"""asyncpg connections of their own, beside SQLAlchemy's pool, for statements that run on their own.

A statement that is a whole transaction by itself (a hot read, a write and
its outbox rows in one statement) needs none of what SQLAlchemy's
connection brings: checking a connection out of SQLAlchemy's pool and back
costs more CPU than the round trip, most of it in a greenlet spawned for
each step. Such a unit of work (see :class:`~.unit_of_work.SqlUnitOfWork`'s
``open_on_demand``) takes a connection from this pool instead, and only
opens a SQLAlchemy connection if it needs one after all.

Why not ``asyncpg.Pool``: measured under load (32 requests at once on one
worker), its release runs as a task of its own behind every other ready
request (``asyncio.shield``), so a connection came back to the pool a few
milliseconds after its statement was done, and a request that had to wait
for one could be overtaken by later ones again and again (``asyncio.Queue``
lets a newcomer take a connection before the waiter it was handed to runs):
the 99th percentile of a listing went from 35 ms to over 100 ms. Here a
connection goes back the moment it is released, straight to the longest
waiting request if there is one, and acquiring a free one does not yield to
the event loop at all.

Connections are opened on demand (none at start) up to ``size``, with the
server settings and statement-cache choice of SQLAlchemy's, ``json`` and
``jsonb`` decoded as SQLAlchemy's are. One idle for longer than
``idle_after`` seconds is closed by a later release (a process whose traffic
stops keeps its idle connections until it is used again or disposed; there
is no limit on a connection's age). There is no ping on
checkout: a connection the server closed is dropped when it is noticed
(asyncpg sees the server's goodbye as soon as the event loop reads it); one
that meets a database restart mid-statement fails that statement
(:class:`~acme.core.errors.Unavailable`, which says to retry) and is
dropped. Nothing is reset on release: only single statements in autocommit
run on these connections; one left in a transaction is closed, not reused.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Mapping
from typing import Any
from weakref import WeakKeyDictionary

from pydantic_core import from_json
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["DriverPool", "driver_pool", "register_driver_pool"]

# Options of SQLAlchemy's asyncpg dialect that asyncpg.connect does not take.
_SQLALCHEMY_OPTIONS = ("prepared_statement_cache_size", "prepared_statement_name_func")


class DriverPool:
    """At most ``size`` asyncpg connections, each lent to one request at a time, in turn.

    Args:
        engine: The engine whose URL (host, credentials, ``ssl`` and other
            query options) the connections use, as SQLAlchemy's dialect
            passes them to ``asyncpg.connect``.
        size: Connections open at most.
        timeout: Seconds :meth:`acquire` waits for a connection, and connecting may take.
        idle_after: Seconds a connection may sit idle before it is closed.
        connect_args: More arguments of ``asyncpg.connect`` (server settings,
            ``statement_cache_size``).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        size: int,
        timeout: float,
        idle_after: float,
        connect_args: Mapping[str, Any],
    ) -> None:
        _, url_args = engine.dialect.create_connect_args(engine.url)
        for own in _SQLALCHEMY_OPTIONS:
            url_args.pop(own, None)
        self._connect_args = {**url_args, **connect_args}
        self.size = size
        self.timeout = timeout
        self._idle_after = idle_after
        self._idle: deque[tuple[Any, float]] = deque()  # (connection, idle since); newest last
        self._waiters: deque[asyncio.Future[Any]] = deque()
        self._open = 0  # connections open or being opened
        self._mine: set[int] = set()  # ids of the open connections since the last close()
        self._generation = 0  # how many times close() ran

    @property
    def open_connections(self) -> int:
        """Connections open (or being opened) now, lent out or idle."""
        return self._open

    @property
    def idle_connections(self) -> int:
        """Connections open and waiting to be lent."""
        return len(self._idle)

    async def acquire(self) -> Any:
        """A connection (hand it back with :meth:`release`).

        Raises:
            TimeoutError: none was free within ``timeout`` seconds.
            OSError, asyncpg.PostgresError: a new one could not be opened.
        """
        while self._idle:
            connection, _ = self._idle.pop()  # the most recently used: the warmest
            if not connection.is_closed():
                return connection
            self._drop(connection)
        if self._open < self.size:
            self._open += 1
            return await self._connect()
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self.timeout):
                return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                # Handed a connection just as this wait ended: pass it on.
                self.release(waiter.result())
            else:
                waiter.cancel()
            raise

    def release(self, connection: Any) -> None:
        """Hand ``connection`` back: to the longest waiting request, else to the idle ones.

        One opened before the last :meth:`close` is closed instead.
        """
        if id(connection) not in self._mine:
            connection.terminate()
            return
        if connection.is_closed() or connection.is_in_transaction():
            self._drop(connection)
            self._open_for_a_waiter()
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        now = time.monotonic()
        self._idle.append((connection, now))
        while self._idle and now - self._idle[0][1] > self._idle_after:
            stale, _ = self._idle.popleft()
            self._drop(stale)

    async def close(self) -> None:
        """Close the idle connections and fail the waiting requests.

        A connection lent out, or still being opened, is closed when it comes
        back; the pool opens new ones if it is used again (on another event
        loop, say, after ``Database.dispose()``).
        """
        idle, self._idle = self._idle, deque()
        waiters, self._waiters = self._waiters, deque()
        self._mine = set()
        self._open = 0
        self._generation += 1
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(ConnectionError("the driver pool was closed"))
        for connection, _ in idle:
            try:
                await connection.close(timeout=self.timeout)
            except Exception:  # noqa: BLE001 - closing politely failed: close it hard
                connection.terminate()

    def _drop(self, connection: Any) -> None:
        connection.terminate()
        self._mine.discard(id(connection))
        self._open -= 1

    async def _connect(self) -> Any:
        """A new connection, already counted in ``_open`` by the caller."""
        import asyncpg

        generation = self._generation
        try:
            async with asyncio.timeout(self.timeout):
                connection = await asyncpg.connect(**self._connect_args)
                try:
                    await _json_codecs(connection)
                except BaseException:
                    connection.terminate()
                    raise
        except BaseException:
            if generation == self._generation:
                self._open -= 1
                self._open_for_a_waiter()
            raise
        if generation != self._generation:
            connection.terminate()
            raise ConnectionError("the driver pool was closed")
        self._mine.add(id(connection))
        return connection

    def _open_for_a_waiter(self) -> None:
        # A connection was dropped: a request waiting for one gets a new one.
        while self._waiters and self._waiters[0].done():
            self._waiters.popleft()
        if self._waiters and self._open < self.size:
            waiter = self._waiters.popleft()
            self._open += 1
            task = asyncio.get_running_loop().create_task(self._connect())
            task.add_done_callback(lambda done: _settle(waiter, done, self))
            _OPENING.add(task)
            task.add_done_callback(_OPENING.discard)


def _settle(waiter: asyncio.Future[Any], opened: asyncio.Task[Any], pool: DriverPool) -> None:
    if opened.cancelled():
        waiter.cancel()
    elif (error := opened.exception()) is not None:
        if not waiter.done():
            waiter.set_exception(error)
    elif waiter.done():
        pool.release(opened.result())
    else:
        waiter.set_result(opened.result())


# Connections being opened for a waiting request, kept until done.
_OPENING: set[asyncio.Task[Any]] = set()


async def _json_codecs(connection: Any) -> None:
    # ``json`` and ``jsonb`` arrive parsed (by pydantic-core, as on SQLAlchemy's
    # connections) and go out as the JSON text SQLAlchemy's bind processing made.
    for name in ("json", "jsonb"):
        await connection.set_type_codec(
            name, encoder=str, decoder=from_json, schema="pg_catalog", format="text"
        )


_POOLS: WeakKeyDictionary[AsyncEngine, DriverPool] = WeakKeyDictionary()


def register_driver_pool(engine: AsyncEngine, pool: DriverPool) -> None:
    """Units of work on ``engine`` that open on demand take their connections from ``pool``."""
    _POOLS[engine] = pool


def driver_pool(engine: AsyncEngine) -> DriverPool | None:
    """The pool registered for ``engine`` (``None``: none, the unit of work opens as before)."""
    return _POOLS.get(engine)
