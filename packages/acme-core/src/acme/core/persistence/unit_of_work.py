"""The unit of work: one database transaction around one use case."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self
from weakref import WeakKeyDictionary

from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from ._diagnosis import database_unavailable
from ._outage import cannot_connect as _cannot_connect
from ._outage import close_quietly as _close_quietly
from ._outage import is_outage
from ._outage import unreachable as _unreachable
from .deferred import Check, DeferredWrites, Write
from .driver import autocommit_driver
from .driver_pool import DriverPool, driver_pool

if TYPE_CHECKING:
    from acme.core.messaging import EventPublisher, Message

__all__ = ["ComponentUnitOfWork", "SqlUnitOfWork", "UnitOfWork", "is_outage"]

logger = logging.getLogger(__name__)

AfterCommit = Callable[[], Awaitable[None]]


class UnitOfWork(Protocol):
    """A transaction boundary: nothing is kept unless :meth:`commit` is called.

    Use cases write ``async with uow: ...; await uow.commit()``; leaving the
    block without committing (or with an exception) rolls back.
    """

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None:
        """Keep every change made in this unit of work."""
        ...

    async def rollback(self) -> None:
        """Discard every change made in this unit of work."""
        ...

    def after_commit(self, callback: AfterCommit) -> None:
        """Run ``callback`` once the transaction has committed (never on rollback)."""
        ...


_AUTOCOMMIT_VIEWS: WeakKeyDictionary[AsyncEngine, AsyncEngine] = WeakKeyDictionary()


def _autocommit(engine: AsyncEngine) -> AsyncEngine:
    """``engine`` in autocommit (the same pool), made once per engine."""
    view = _AUTOCOMMIT_VIEWS.get(engine)
    if view is None:
        view = _AUTOCOMMIT_VIEWS[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return view


class SqlUnitOfWork:
    """A unit of work on one SQLAlchemy connection.

    Repositories built on :attr:`connection` all share its transaction, so a
    business change and its outbox row commit or vanish together.

    An outage (see :func:`is_outage`) on entering, inside the block or on
    commit surfaces as :class:`~acme.core.errors.Unavailable` (HTTP 503 with
    ``Retry-After``), never as the driver's exception; its ``diagnostic``
    keeps the driver's message and SQLSTATE for the log. A commit that fails
    that way may or may not have been applied: the caller only knows it was
    not acknowledged.

    With ``read_only=True`` there is no transaction at all: each statement
    runs on its own (autocommit), which saves the ``BEGIN`` and ``ROLLBACK``
    round trips of a use case that only reads one statement's worth of data;
    :meth:`commit` is refused.

    With ``deferred=True`` the unit of work writes only through :meth:`defer`
    and :meth:`defer_insert`, and opens no transaction it does not need: on
    PostgreSQL its reads run on their own (autocommit) and its writes wait
    for :meth:`commit`, where one write and its inserts (its outbox rows) are
    one statement and one round trip (see :mod:`.deferred`). On SQLite the
    whole unit of work keeps its transaction. A write run directly on
    :attr:`connection` in this mode would be kept at once, so do not.

    With ``open_on_demand=True``, a unit of work without a transaction (read
    only, or deferred on PostgreSQL) on an engine with a driver pool (a
    :class:`~acme.core.persistence.database.Database` on asyncpg; see
    :mod:`.driver_pool`) checks nothing out on entering: :meth:`driver`
    takes an asyncpg connection from that pool when a statement is run
    straight on the driver (:mod:`.driver`, the deferred write at commit),
    and :attr:`connection` is only usable after :meth:`connect` has opened
    it. Repositories of such a unit of work call ``await uow.connect()``
    before they run a statement through SQLAlchemy. Anywhere else the option
    changes nothing.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        read_only: bool = False,
        deferred: bool = False,
        open_on_demand: bool = False,
    ) -> None:
        self._engine = engine
        self.read_only = read_only
        self.deferred = deferred
        self.open_on_demand = open_on_demand
        self._connection: AsyncConnection | None = None
        self._transaction: AsyncTransaction | None = None
        self._after_commit: list[AfterCommit] = []
        self._writes = DeferredWrites()
        self._autocommit = False
        # On demand: the pool connections come from, whether ``_connection`` is
        # started, and the asyncpg connection taken from the pool.
        self._pool: DriverPool | None = None
        self._started = False
        self._driver: Any = None

    @property
    def dialect(self) -> Dialect:
        """The database's dialect (known before anything connects)."""
        return self._engine.dialect

    @property
    def connection(self) -> AsyncConnection:
        if self._connection is None:
            raise RuntimeError("the unit of work is not open; use 'async with uow:'")
        return self._connection

    async def __aenter__(self) -> Self:
        if self._connection is not None:
            raise RuntimeError("a unit of work cannot be entered twice at once")
        self._autocommit = self.read_only or (
            self.deferred and self._engine.dialect.name == "postgresql"
        )
        # In autocommit, the connection comes from a view of the engine with that
        # isolation level: set as it is checked out, not by a call of its own.
        engine = _autocommit(self._engine) if self._autocommit else self._engine
        self._after_commit = []
        if self.open_on_demand and self._autocommit:
            self._pool = driver_pool(self._engine)
            if self._pool is not None:
                # Made, not started: :meth:`connect` checks it out if it is needed.
                self._connection = engine.connect()
                self._started = False
                return self
        try:
            connection = await engine.connect()
        except Exception as exc:
            if _cannot_connect(exc):
                raise database_unavailable(exc) from exc
            raise
        try:
            if not self._autocommit:
                self._transaction = await connection.begin()
        except BaseException as exc:
            await _close_quietly(connection)
            if isinstance(exc, Exception) and _unreachable(exc):
                raise database_unavailable(exc) from exc
            raise
        self._connection = connection
        self._started = True
        return self

    async def connect(self) -> AsyncConnection:
        """:attr:`connection`, checked out now if it was put off (``open_on_demand``).

        Raises:
            Unavailable: no connection could be made.
        """
        connection = self.connection
        if not self._started:
            try:
                await connection.start()
            except Exception as exc:
                if _cannot_connect(exc):
                    raise database_unavailable(exc) from exc
                raise
            self._started = True
        return connection

    def _has_driver(self) -> bool:
        return self._driver is not None

    async def driver(self) -> Any | None:
        """An asyncpg connection in autocommit for this unit of work, or ``None``.

        From the driver pool when the unit of work opens on demand (taken
        once, handed back on leaving); else the one under :attr:`connection`
        when that is asyncpg in autocommit; ``None`` anywhere else (SQLite,
        a transaction), where statements go through :attr:`connection`.

        Raises:
            Unavailable: no connection could be had from the driver pool.
        """
        if self._driver is not None:
            return self._driver
        if self._pool is not None and not self._started:
            if self._connection is None:
                raise RuntimeError("the unit of work is not open; use 'async with uow:'")
            try:
                driver = await self._pool.acquire()
            except Exception as exc:
                raise database_unavailable(exc) from exc
            if self._has_driver():  # taken meanwhile by another task of this unit of work
                self._pool.release(driver)
            else:
                self._driver = driver
            return self._driver
        return await autocommit_driver(self.connection)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        transaction, self._transaction = self._transaction, None
        driver, self._driver = self._driver, None
        started, self._started = self._started, False
        pool, self._pool = self._pool, None
        self._writes.clear()
        if driver is not None and pool is not None:
            pool.release(driver)
        if connection is None or not started:
            if exc is not None and is_outage(exc):
                raise database_unavailable(exc) from exc
            return
        try:
            if transaction is not None and transaction.is_active:
                await transaction.rollback()
        except Exception as rollback_error:
            # A lost connection cannot roll back; the server already has.
            if not _unreachable(rollback_error):
                raise
        finally:
            await _close_quietly(connection)
        if exc is not None and is_outage(exc):
            raise database_unavailable(exc) from exc

    def defer(
        self,
        statement: Write,
        parameters: Mapping[str, Any],
        *,
        check: Check | None = None,
        conflict: Callable[[], Exception] | None = None,
    ) -> None:
        """Queue a write for :meth:`commit`.

        Args:
            statement: An insert, update or delete with named bind parameters,
                built once (the combined statement is cached on it).
            parameters: Its values.
            check: Awaited at commit with the number of rows the write
                changed; raising refuses the unit of work (nothing is kept).
            conflict: Makes the error to raise instead of a unique-key violation.
        """
        self._writes.write(statement, parameters, check, conflict)

    def defer_insert(self, table: Table, values: Mapping[str, Any]) -> None:
        """Queue a row for :meth:`commit`; kept only if the write queued before it changed a row."""
        self._writes.insert(table, values)

    async def commit(self) -> None:
        if self.read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        if self._connection is None or (
            not self._autocommit and (self._transaction is None or not self._transaction.is_active)
        ):
            raise RuntimeError("nothing to commit: the unit of work is not open")
        try:
            if self._autocommit:
                await self._run_deferred()
            else:
                assert self._transaction is not None
                await self._writes.run_each(self._connection)
                await self._transaction.commit()
        except Exception as exc:
            if _unreachable(exc):
                raise database_unavailable(exc) from exc
            raise
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            try:
                await callback()
            except Exception:
                # The data is committed; a failing follow-up must not turn the
                # use case into an error the caller would retry.
                logger.exception("after-commit callback failed")
        # A unit of work may go on after a commit: start the next transaction.
        if not self._autocommit:
            self._transaction = await self.connection.begin()

    async def _run_deferred(self) -> None:
        # SQLAlchemy wraps even autocommit statements in a transaction object
        # of its own; ending it sends nothing and lets the isolation level change.
        if self._started and self.connection.in_transaction():
            await self.connection.commit()
        if not self._writes:
            return
        if self._writes.single_statement:
            await self._writes.run_combined(self)
            if self._started and self.connection.in_transaction():
                await self.connection.commit()
            return
        connection = await self.connect()
        await connection.execution_options(
            isolation_level=connection.sync_connection.default_isolation_level  # type: ignore[union-attr]
        )
        try:
            async with connection.begin():
                await self._writes.run_each(connection)
        finally:
            await connection.execution_options(isolation_level="AUTOCOMMIT")

    async def rollback(self) -> None:
        self._writes.clear()
        self._after_commit = []
        if self._transaction is not None and self._transaction.is_active:
            await self._transaction.rollback()
            self._transaction = await self.connection.begin()

    def after_commit(self, callback: AfterCommit) -> None:
        self._after_commit.append(callback)


class ComponentUnitOfWork:
    """The base of a component's SQL unit of work: a transaction, its connection, events.

    A component subclasses it and hangs its repositories off
    :attr:`connection` (``SqlItemsUnitOfWork.items``), so its use cases get
    everything from one object and never build an adapter. Entering,
    leaving, committing and rolling back are the wrapped
    :class:`SqlUnitOfWork`'s; :meth:`publish` writes an event through
    ``events`` (the outbox) in the same transaction.

    A component whose repositories write only through the unit of work's
    :meth:`~SqlUnitOfWork.defer` sets ``deferred_writes = True``: its units
    of work then open no transaction they do not need, and a write and its
    events are one statement on PostgreSQL.

    A component whose repositories call ``await uow.connect()`` before any
    statement they run through SQLAlchemy (and run their hot statements
    through :mod:`.driver`) also sets ``open_on_demand = True``: its units
    of work without a transaction then take an asyncpg connection of the
    driver pool only when a statement needs one (see :class:`SqlUnitOfWork`).
    """

    deferred_writes: ClassVar[bool] = False
    open_on_demand: ClassVar[bool] = False

    def __init__(self, uow: SqlUnitOfWork, events: EventPublisher) -> None:
        if self.deferred_writes:
            uow.deferred = True
        if self.open_on_demand:
            uow.open_on_demand = True
        self._uow = uow
        self._events = events

    @property
    def unit_of_work(self) -> SqlUnitOfWork:
        """The wrapped SQL unit of work (for repositories that defer their writes)."""
        return self._uow

    @property
    def connection(self) -> AsyncConnection:
        """The unit of work's connection (inside ``async with`` only; with
        ``open_on_demand``, usable once ``await self.unit_of_work.connect()`` opened it)."""
        return self._uow.connection

    async def __aenter__(self) -> Self:
        await self._uow.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._uow.__aexit__(exc_type, exc, tb)

    async def commit(self) -> None:
        await self._uow.commit()

    async def rollback(self) -> None:
        await self._uow.rollback()

    def after_commit(self, callback: AfterCommit) -> None:
        self._uow.after_commit(callback)

    async def publish(self, message: Message) -> None:
        """Queue an event: it goes out if and only if this unit of work commits."""
        await self._events.publish(self._uow, message)
