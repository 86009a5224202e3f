"""The unit of work: one database transaction around one use case."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Protocol, Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

__all__ = ["SqlUnitOfWork", "UnitOfWork"]

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


class SqlUnitOfWork:
    """A unit of work on one SQLAlchemy connection.

    Repositories built on :attr:`connection` all share its transaction, so a
    business change and its outbox row commit or vanish together.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._transaction: AsyncTransaction | None = None
        self._after_commit: list[AfterCommit] = []

    @property
    def connection(self) -> AsyncConnection:
        if self._connection is None:
            raise RuntimeError("the unit of work is not open; use 'async with uow:'")
        return self._connection

    async def __aenter__(self) -> Self:
        if self._connection is not None:
            raise RuntimeError("a unit of work cannot be entered twice at once")
        connection = await self._engine.connect()
        try:
            self._transaction = await connection.begin()
        except BaseException:
            await connection.close()
            raise
        self._connection = connection
        self._after_commit = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        transaction, self._transaction = self._transaction, None
        if connection is None:
            return
        try:
            if transaction is not None and transaction.is_active:
                await transaction.rollback()
        finally:
            await connection.close()

    async def commit(self) -> None:
        if self._transaction is None or not self._transaction.is_active:
            raise RuntimeError("nothing to commit: the unit of work is not open")
        await self._transaction.commit()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            try:
                await callback()
            except Exception:
                # The data is committed; a failing follow-up must not turn the
                # use case into an error the caller would retry.
                logger.exception("after-commit callback failed")
        # A unit of work may go on after a commit: start the next transaction.
        self._transaction = await self.connection.begin()

    async def rollback(self) -> None:
        if self._transaction is not None and self._transaction.is_active:
            await self._transaction.rollback()
            self._after_commit = []
            self._transaction = await self.connection.begin()

    def after_commit(self, callback: AfterCommit) -> None:
        self._after_commit.append(callback)
