"""The idempotent consumer: a message has at most one effect per consumer.

A batch handler can claim its messages and apply its effect in one
statement on PostgreSQL: the effect's statement reads the claimed ids from
:data:`CLAIMED`, a data-modifying CTE that records the batch in the ledger
and answers only the ids that were new (see :func:`idempotent_batch`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ARRAY, CTE, Executable, String, Uuid, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from acme.core.persistence import SqlUnitOfWork

from ._message import Message
from ._port import BatchHandler, Handler
from .tables import processed_messages

__all__ = ["CLAIMED", "OneStatement", "ProcessedMessages", "idempotent", "idempotent_batch"]

logger = logging.getLogger(__name__)

Effect = Callable[[SqlUnitOfWork, Message], Awaitable[None]]
BatchEffect = Callable[[SqlUnitOfWork, Sequence[Message]], Awaitable[None]]
OneStatement = Callable[[Sequence[Message]], tuple[Executable, Mapping[str, Any]]]
"""Builds a batch's effect as one PostgreSQL statement that reads :data:`CLAIMED`, and its
parameters (the claim's own are added by :func:`idempotent_batch`)."""

# One claim statement per dialect, built once; the values are execution parameters.
_CLAIM: dict[str, Any] = {
    "postgresql": postgresql.insert(processed_messages).on_conflict_do_nothing(),
    "sqlite": sqlite.insert(processed_messages).on_conflict_do_nothing(),
}
# The batch's claim: one multi-row insert that answers which rows were new.
_CLAIM_MANY: dict[str, Any] = {
    name: statement.returning(processed_messages.c.message_id) for name, statement in _CLAIM.items()
}


_CLAIM_AT = bindparam("claim_at", type_=processed_messages.c.processed_at.type)
CLAIMED: CTE = (
    postgresql.insert(processed_messages)
    .from_select(
        ["consumer", "message_id", "processed_at"],
        select(
            bindparam("claim_consumer", type_=String),
            func.unnest(bindparam("claim_ids", type_=ARRAY(Uuid))),
            _CLAIM_AT,
        ),
    )
    .on_conflict_do_nothing()
    .returning(processed_messages.c.message_id)
    .cte("acme_claimed")
)
"""PostgreSQL: records a batch's message ids in the ledger for a consumer, in the statement
that uses it; its ``message_id`` column lists the ids that were not there before. Its
parameters (``claim_consumer``, ``claim_ids``, ``claim_at``) are filled in by
:func:`idempotent_batch`; the effect may use ``claim_at`` as its own "now"."""


class ProcessedMessages:
    """The ledger of (consumer, message id) pairs already handled, on one connection."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def claim(self, consumer: str, message_id: uuid.UUID) -> bool:
        """Record the message as processed by ``consumer``; ``False`` if it already was.

        Written in the caller's transaction: if that rolls back, so does the
        claim, and a redelivery is handled afresh. On PostgreSQL a concurrent
        claim of the same pair waits for the first transaction and then
        returns ``False``.
        """
        values = {
            "consumer": consumer,
            "message_id": message_id,
            "processed_at": datetime.now(UTC),
        }
        dialect = self._connection.dialect.name
        statement = _CLAIM.get(dialect)
        if statement is None:
            raise NotImplementedError(f"the idempotent consumer does not support {dialect}")
        result = await self._connection.execute(statement, values)
        return bool(result.rowcount)

    async def claim_many(self, consumer: str, message_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """:meth:`claim` for several messages in one statement; the ids that were new."""
        if not message_ids:
            return set()
        dialect = self._connection.dialect.name
        statement = _CLAIM_MANY.get(dialect)
        if statement is None:
            raise NotImplementedError(f"the idempotent consumer does not support {dialect}")
        now = datetime.now(UTC)
        rows = [
            {"consumer": consumer, "message_id": message_id, "processed_at": now}
            for message_id in dict.fromkeys(message_ids)
        ]
        result = await self._connection.execute(statement.values(rows))
        return set(result.scalars())


def idempotent(consumer: str, unit_of_work: Callable[[], SqlUnitOfWork], effect: Effect) -> Handler:
    """A bus handler that applies ``effect`` at most once per message for ``consumer``.

    ``effect`` receives the open unit of work; the claim in the ledger and
    the effect commit together, and the handler returns only after that
    commit, so the bus acknowledges a message only once its effect is kept::

        async def count(uow: SqlUnitOfWork, message: Message) -> None: ...


        bus.subscribe(
            "item.*",
            idempotent("accounts.item-counts", db.unit_of_work, count),
            consumer="accounts.item-counts",
        )
    """

    async def handle(message: Message) -> None:
        async with unit_of_work() as uow:
            if not await ProcessedMessages(uow.connection).claim(consumer, message.id):
                logger.debug("%s: %s %s already processed", consumer, message.type, message.id)
                return
            await effect(uow, message)
            await uow.commit()

    return handle


def idempotent_batch(
    consumer: str,
    unit_of_work: Callable[[], SqlUnitOfWork],
    effect: BatchEffect,
    *,
    one_statement: OneStatement | None = None,
) -> BatchHandler:
    """:func:`idempotent` for a batch: one claim, one effect, one transaction.

    ``effect`` receives the messages not processed before (in the batch's
    order, each once); nothing is called when there are none. Subscribe it
    with a bus's ``subscribe_batch`` (see :class:`BatchBus`).

    With ``one_statement``, on PostgreSQL the claim and the effect are one
    statement, run on its own (autocommit: one round trip, no ``BEGIN`` or
    ``COMMIT``): it gets the batch (each message once) and builds a statement
    whose effect joins :data:`CLAIMED` on ``message_id``, so only new
    messages count. ``effect`` remains the way on other databases (SQLite).
    """

    async def handle(messages: Sequence[Message]) -> None:
        unit = unit_of_work()
        if one_statement is not None:
            unit.deferred = True  # autocommit on PostgreSQL; SQLite keeps its transaction
        async with unit as uow:
            if one_statement is not None and uow.connection.dialect.name == "postgresql":
                unique = list({message.id: message for message in messages}.values())
                statement, parameters = one_statement(unique)
                claim = {
                    "claim_consumer": consumer,
                    # In one order everywhere: concurrent batches sharing messages take
                    # the ledger's index entries in the same order, so they wait, never deadlock.
                    "claim_ids": sorted(message.id for message in unique),
                    "claim_at": datetime.now(UTC),
                }
                await uow.connection.execute(statement, {**parameters, **claim})
                await uow.commit()
                return
            ids = [message.id for message in messages]
            new = await ProcessedMessages(uow.connection).claim_many(consumer, ids)
            fresh = list({m.id: m for m in messages if m.id in new}.values())
            if len(fresh) < len(messages):
                logger.debug(
                    "%s: %d of %d already processed",
                    consumer,
                    len(messages) - len(fresh),
                    len(messages),
                )
            if not fresh:
                return
            await effect(uow, fresh)
            await uow.commit()

    return handle
