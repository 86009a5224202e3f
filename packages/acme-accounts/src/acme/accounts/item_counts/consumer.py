"""The item-count consumer: one idempotent effect per event, or per batch of events.

On PostgreSQL a batch is one statement: the ledger claim (core's
:data:`~acme.core.messaging.idempotency.CLAIMED`) and each account's net
change for the newly claimed events, upserted, in autocommit.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ARRAY, Executable, Integer, Uuid, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite

from acme.core.errors import Invalid
from acme.core.messaging import (
    CLAIMED,
    BatchBus,
    Message,
    MessageBus,
    idempotent,
    idempotent_batch,
)
from acme.core.persistence import SqlUnitOfWork

from .tables import item_counts

__all__ = [
    "CONSUMER",
    "TOPICS",
    "apply_event",
    "apply_events",
    "counts_in_one_statement",
    "item_count",
    "subscribe",
]

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


# The batch's upsert: one row per account, its net change (an account may not
# appear twice in one INSERT ... ON CONFLICT DO UPDATE on PostgreSQL).
def _upsert_many(insert: Any) -> Any:
    statement = insert(item_counts)
    return statement.on_conflict_do_update(
        index_elements=[item_counts.c.account_id],
        set_={
            "item_count": item_counts.c.item_count + statement.excluded.item_count,
            "updated_at": statement.excluded.updated_at,
        },
    )


_UPSERT_MANY = {
    "postgresql": _upsert_many(postgresql.insert),
    "sqlite": _upsert_many(sqlite.insert),
}


async def apply_events(uow: SqlUnitOfWork, messages: Sequence[Message]) -> None:
    """Apply a batch of events: each account's net change, in one statement.

    Raises:
        Invalid: one of them is not understood (nothing is applied; the bus
            then tries each message on its own).
    """
    net: dict[uuid.UUID, int] = defaultdict(int)
    for message in messages:
        account_id, delta = _account_and_delta(message)
        net[account_id] += delta
    if not net:
        return
    now = datetime.now(UTC)
    rows = [
        {"account_id": account_id, "item_count": delta, "updated_at": now}
        for account_id, delta in net.items()
    ]
    statement = _UPSERT_MANY[uow.connection.dialect.name]
    await uow.connection.execute(statement.values(rows))


def _batch_upsert() -> Any:
    # The batch's events as three arrays; only those CLAIMED found new count.
    events = (
        func.unnest(
            bindparam("event_ids", type_=ARRAY(Uuid)),
            bindparam("event_accounts", type_=ARRAY(Uuid)),
            bindparam("event_deltas", type_=ARRAY(Integer)),
        )
        .table_valued("message_id", "account_id", "delta")
        .render_derived()
    )
    net = (
        select(events.c.account_id, func.sum(events.c.delta).label("delta"))
        .join(CLAIMED, CLAIMED.c.message_id == events.c.message_id)
        .group_by(events.c.account_id)
        .subquery()
    )
    now = bindparam("claim_at", type_=item_counts.c.updated_at.type)
    # Accounts in one order: concurrent batches lock their rows alike and wait, not deadlock.
    rows = select(net.c.account_id, net.c.delta, now).order_by(net.c.account_id)
    statement = postgresql.insert(item_counts).from_select(
        ["account_id", "item_count", "updated_at"], rows
    )
    return statement.on_conflict_do_update(
        index_elements=[item_counts.c.account_id],
        set_={
            "item_count": item_counts.c.item_count + statement.excluded.item_count,
            "updated_at": statement.excluded.updated_at,
        },
    )


_BATCH_UPSERT = _batch_upsert()


def counts_in_one_statement(messages: Sequence[Message]) -> tuple[Executable, dict[str, Any]]:
    """The batch's claim and count changes as one PostgreSQL statement, and its parameters.

    Raises:
        Invalid: one of them is not understood (the bus then tries each on its own).
    """
    changes = [_account_and_delta(message) for message in messages]
    return _BATCH_UPSERT, {
        "event_ids": [message.id for message in messages],
        "event_accounts": [account_id for account_id, _ in changes],
        "event_deltas": [delta for _, delta in changes],
    }


def subscribe(bus: MessageBus, unit_of_work: Callable[[], SqlUnitOfWork]) -> None:
    """Subscribe the consumer to its topics (before the bus starts).

    On a bus that moves batches (the in-process one, RabbitMQ), a batch of
    events is one statement on PostgreSQL (claim and upsert), elsewhere one
    claim and one upsert in one transaction.
    """
    counted_types = {message_type for message_type, _ in _EFFECTS}
    if isinstance(bus, BatchBus):
        counted_batch = idempotent_batch(
            CONSUMER, unit_of_work, apply_events, one_statement=counts_in_one_statement
        )

        async def batch_handler(messages: Sequence[Message]) -> None:
            # item.updated changes no count: no database work for it.
            counting = [message for message in messages if message.type in counted_types]
            if counting:
                await counted_batch(counting)

        for topic in TOPICS:
            bus.subscribe_batch(topic, batch_handler, consumer=CONSUMER)
        return
    counted = idempotent(CONSUMER, unit_of_work, apply_event)

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
