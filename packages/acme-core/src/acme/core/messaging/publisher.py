"""The :class:`~acme.core.messaging.EventPublisher` adapter: events written to the outbox."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from acme.core.persistence import SqlUnitOfWork

from ._message import Message
from .outbox import Outbox, outbox_row
from .tables import outbox

__all__ = ["OutboxPublisher"]


class OutboxPublisher:
    """:class:`EventPublisher` on the transactional outbox.

    Args:
        after_commit: Called once the transaction commits, typically
            :meth:`OutboxRelay.wake_after_commit`, so the local relay
            publishes at once instead of at its next poll.
    """

    def __init__(self, *, after_commit: Callable[[], Awaitable[None]] | None = None) -> None:
        self._after_commit = after_commit

    async def publish(self, uow: SqlUnitOfWork, message: Message) -> None:
        if getattr(uow, "deferred", False):
            # Written at commit with the write before it, in the same statement on PostgreSQL.
            uow.defer_insert(outbox, outbox_row(message))
        else:
            await Outbox(uow.connection).add(message)
        if self._after_commit is not None:
            uow.after_commit(self._after_commit)
