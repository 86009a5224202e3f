"""In-memory fakes of core's ports, for use-case tests that need no database.

A component's unit tests build its unit of work on :class:`FakeUnitOfWork`
(adding fake repositories) and run its use cases in milliseconds; a contract
suite runs the same tests on the SQL adapters, so the fakes cannot drift.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

from acme.core.messaging import Message

__all__ = ["FakeUnitOfWork", "ManualClock"]


class FakeUnitOfWork:
    """:class:`~acme.core.persistence.UnitOfWork` in memory, with the event port.

    Events published inside the block are kept in :attr:`events` only when
    :meth:`commit` runs; after-commit callbacks run then too, as on the SQL
    unit of work. Fake repositories hung on a subclass write at once: the
    fake models the commit of events, not the rollback of data (the SQL
    contract tests cover that).
    """

    def __init__(self, events: list[Message] | None = None) -> None:
        #: The committed events (pass one list to several units to share it).
        self.events: list[Message] = [] if events is None else events
        self.commits = 0
        self._pending: list[Message] = []
        self._after_commit: list[Callable[[], Awaitable[None]]] = []
        self._open = False

    async def __aenter__(self) -> Self:
        if self._open:
            raise RuntimeError("a unit of work cannot be entered twice at once")
        self._open = True
        self._pending, self._after_commit = [], []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._open = False
        await self.rollback()

    async def commit(self) -> None:
        if not self._open:
            raise RuntimeError("nothing to commit: the unit of work is not open")
        self.commits += 1
        self.events.extend(self._pending)
        callbacks, self._pending, self._after_commit = self._after_commit, [], []
        for callback in callbacks:
            await callback()

    async def rollback(self) -> None:
        self._pending, self._after_commit = [], []

    def after_commit(self, callback: Callable[[], Awaitable[None]]) -> None:
        self._after_commit.append(callback)

    async def publish(self, message: Message) -> None:
        """Queue an event: it is kept if and only if this unit of work commits."""
        self._pending.append(message)

    def event_types(self) -> list[str]:
        """The types of the committed events, in order."""
        return [message.type for message in self.events]


class ManualClock:
    """A clock that stands still until a test moves it (``clock()`` is the time)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
