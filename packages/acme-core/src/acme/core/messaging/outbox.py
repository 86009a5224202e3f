"""The transactional outbox: messages written in the same transaction as the change."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from . import tracing
from ._message import Message
from .tables import outbox

__all__ = ["Outbox"]

# Built once; the values are execution parameters (no per-call statement to compile or key).
_INSERT = outbox.insert()


class Outbox:
    """Records messages to publish, on the unit of work's connection.

    The row commits or rolls back with the business change; a relay then
    publishes committed rows and marks them sent. So a message goes out if
    and only if its change was committed.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, message: Message) -> None:
        """Queue ``message`` for publication when the transaction commits."""
        await self._connection.execute(_INSERT, outbox_row(message))


def outbox_row(message: Message) -> dict[str, Any]:
    """The outbox row of a message, pending, with the current trace context when tracing."""
    return {
        "id": message.id,
        "type": message.type,
        "version": message.version,
        "occurred_at": message.occurred_at,
        "correlation_id": message.correlation_id,
        "payload": dict(message.payload),
        "created_at": datetime.now(UTC),
        "attempts": 0,
        "trace_context": tracing.creation_context(message),
    }
