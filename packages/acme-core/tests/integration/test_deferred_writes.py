"""A unit of work in deferred mode: its writes wait for commit, with the same all-or-nothing.

Run on SQLite (one transaction) and PostgreSQL (one write and its inserts in
one statement, in autocommit). The write here is a claim in the processed-
messages ledger and the inserts are outbox rows, core's own two tables.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from acme.core.errors import Conflict, PreconditionFailed
from acme.core.messaging import Message
from acme.core.messaging.outbox import outbox_row
from acme.core.messaging.publisher import OutboxPublisher
from acme.core.messaging.tables import outbox, processed_messages
from acme.core.persistence import SqlUnitOfWork
from acme.core.persistence.database import Database

_CLAIM = insert(processed_messages).values(
    consumer=bindparam("c"), message_id=bindparam("m"), processed_at=bindparam("at")
)
_UNCLAIM = delete(processed_messages).where(
    processed_messages.c.consumer == bindparam("c"),
    processed_messages.c.message_id == bindparam("m"),
)


def _deferred(database: Database) -> SqlUnitOfWork:
    return SqlUnitOfWork(database.engine, deferred=True)


def _claim(message_id: uuid.UUID) -> dict[str, object]:
    return {"c": "test", "m": message_id, "at": datetime.now(UTC)}


async def _counts(database: Database) -> tuple[int, int]:
    async with database.engine.connect() as connection:
        claims = (
            await connection.execute(select(func.count()).select_from(processed_messages))
        ).scalar_one()
        rows = (await connection.execute(select(func.count()).select_from(outbox))).scalar_one()
    return int(claims), int(rows)


async def test_a_write_and_its_rows_are_kept_together_at_commit(core_database: Database) -> None:
    async with _deferred(core_database) as uow:
        uow.defer(_CLAIM, _claim(uuid.uuid4()))
        await OutboxPublisher().publish(uow, Message("thing.done", {"n": 1}))
        await OutboxPublisher().publish(uow, Message("thing.done", {"n": 2}))
        assert await _counts(core_database) == (0, 0)  # nothing before commit
        await uow.commit()
    assert await _counts(core_database) == (1, 2)


async def test_leaving_without_commit_keeps_nothing(core_database: Database) -> None:
    async with _deferred(core_database) as uow:
        uow.defer(_CLAIM, _claim(uuid.uuid4()))
        uow.defer_insert(outbox, outbox_row(Message("thing.done", {})))
    assert await _counts(core_database) == (0, 0)


async def test_a_refusing_check_keeps_nothing(core_database: Database) -> None:
    seen: list[int] = []

    async def refuse(changed: int) -> None:
        seen.append(changed)
        if changed == 0:
            raise PreconditionFailed("gone", code="gone")

    async with _deferred(core_database) as uow:
        uow.defer(_UNCLAIM, {"c": "test", "m": uuid.uuid4()}, check=refuse)
        uow.defer_insert(outbox, outbox_row(Message("thing.undone", {})))
        with pytest.raises(PreconditionFailed):
            await uow.commit()
    assert seen == [0]
    assert await _counts(core_database) == (0, 0)


async def test_a_duplicate_key_is_the_callers_conflict(core_database: Database) -> None:
    message_id = uuid.uuid4()
    async with _deferred(core_database) as uow:
        uow.defer(_CLAIM, _claim(message_id))
        await uow.commit()
    async with _deferred(core_database) as uow:
        uow.defer(_CLAIM, _claim(message_id), conflict=lambda: Conflict("taken", code="taken"))
        uow.defer_insert(outbox, outbox_row(Message("thing.done", {})))
        with pytest.raises(Conflict):
            await uow.commit()
    assert await _counts(core_database) == (1, 0)


async def test_several_writes_commit_in_one_transaction(core_database: Database) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    async with _deferred(core_database) as uow:
        uow.defer(_CLAIM, _claim(first))
        uow.defer_insert(outbox, outbox_row(Message("thing.done", {})))
        uow.defer(_CLAIM, _claim(second))
        uow.defer(_CLAIM, _claim(first))  # a duplicate: the whole transaction goes
        with pytest.raises(IntegrityError):
            await uow.commit()
    assert await _counts(core_database) == (0, 0)
    async with _deferred(core_database) as uow:
        uow.defer(_CLAIM, _claim(first))
        uow.defer_insert(outbox, outbox_row(Message("thing.done", {})))
        uow.defer(_CLAIM, _claim(second))
        await uow.commit()
        # The unit of work goes on after a commit, still deferring.
        uow.defer(_CLAIM, _claim(uuid.uuid4()))
        await uow.commit()
    assert await _counts(core_database) == (3, 1)
