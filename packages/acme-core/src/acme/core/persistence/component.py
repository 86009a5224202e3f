"""The base of a component's SQL unit of work."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, ClassVar, Self

from sqlalchemy.ext.asyncio import AsyncConnection

from .unit_of_work import AfterCommit, SqlUnitOfWork

if TYPE_CHECKING:
    from acme.core.messaging import EventPublisher, Message

__all__ = ["ComponentUnitOfWork"]


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
    """

    deferred_writes: ClassVar[bool] = False

    def __init__(self, uow: SqlUnitOfWork, events: EventPublisher) -> None:
        if self.deferred_writes:
            uow.deferred = True
        self._uow = uow
        self._events = events

    @property
    def unit_of_work(self) -> SqlUnitOfWork:
        """The wrapped SQL unit of work (for repositories that defer their writes)."""
        return self._uow

    @property
    def connection(self) -> AsyncConnection:
        """The open transaction's connection (inside ``async with`` only)."""
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
