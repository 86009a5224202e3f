"""The item-count consumer: one idempotent effect per event."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from acme.core.errors import Invalid
from acme.core.messaging import Message, MessageBus, idempotent
from acme.core.persistence import SqlUnitOfWork

from .tables import item_counts

__all__ = ["CONSUMER", "TOPICS", "apply_event", "item_count", "subscribe"]

CONSUMER = "accounts.item-counts"
"""The consumer's name: its ledger key and, on RabbitMQ, its queue."""

TOPICS = ("account.created", "item.*")
"""Every item event is bound (so none is unroutable); only creations and deletions count."""

# The change each event (type, version) makes, and the payload field naming the account.
_EFFECTS: dict[tuple[str, int], tuple[int, str]] = {
    ("account.created", 1): (0, "account_id"),
    ("item.created", 1): (1, "owner_id"),
    ("item.deleted", 1): (-1, "owner_id"),
}


def _account_and_delta(message: Message) -> tuple[uuid.UUID, int]:
    effect = _EFFECTS.get((message.type, message.version))
    if effect is None:
        raise Invalid(f"{message.type} version {message.version} is not understood here")
    delta, field = effect
    try:
        return uuid.UUID(str(message.payload[field])), delta
    except (KeyError, ValueError) as exc:
        raise Invalid(f"{message.type} without a valid {field}") from exc


def _upsert(insert: Any) -> Any:
    delta = bindparam("delta", type_=Integer)
    now = bindparam("now", type_=item_counts.c.updated_at.type)
    return (
        insert(item_counts)
        .values(account_id=bindparam("account_id"), item_count=delta, updated_at=now)
        .on_conflict_do_update(
            index_elements=[item_counts.c.account_id],
            set_={"item_count": item_counts.c.item_count + delta, "updated_at": now},
        )
    )


# Built once per dialect, run with parameters (the consumer runs once per event).
_UPSERT = {"postgresql": _upsert(postgresql.insert), "sqlite": _upsert(sqlite.insert)}


async def apply_event(uow: SqlUnitOfWork, message: Message) -> None:
    """Apply one event to the counts, in the consumer's transaction.

    Raises:
        Invalid: an event version or payload this consumer does not understand
            (the bus retries, then dead-letters it for an operator).
    """
    account_id, delta = _account_and_delta(message)
    statement = _UPSERT[uow.connection.dialect.name]
    await uow.connection.execute(
        statement, {"account_id": account_id, "delta": delta, "now": datetime.now(UTC)}
    )


def subscribe(bus: MessageBus, unit_of_work: Callable[[], SqlUnitOfWork]) -> None:
    """Subscribe the consumer to its topics (before the bus starts)."""
    counted = idempotent(CONSUMER, unit_of_work, apply_event)
    counted_types = {message_type for message_type, _ in _EFFECTS}

    async def handler(message: Message) -> None:
        if message.type in counted_types:  # item.updated changes no count: no database work
            await counted(message)

    for topic in TOPICS:
        bus.subscribe(topic, handler, consumer=CONSUMER)


async def item_count(uow: SqlUnitOfWork, account_id: uuid.UUID) -> int:
    """How many items the account owns, as far as the events delivered so far say."""
    query = select(item_counts.c.item_count).where(item_counts.c.account_id == account_id)
    found = await uow.connection.scalar(query)
    return int(found or 0)
