"""Writes held back to commit, so a write and the rows that go with it cost one statement.

A unit of work in deferred mode (:meth:`SqlUnitOfWork.defer`) queues its
writes. At commit, on PostgreSQL, one write and the inserts queued after it
(its outbox rows) become a single statement: the write is a data-modifying
CTE and each insert selects from it, so an insert is written only when the
write changed a row. That statement is the whole transaction, so it runs in
autocommit: no ``BEGIN``, no ``COMMIT``, one round trip. Anything else (more
than one write, SQLite, which has no data-modifying CTE) runs the queue in a
transaction, with the same rule for the inserts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import (
    Delete,
    Insert,
    Select,
    Table,
    Update,
    bindparam,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from .driver import DriverSource, driver_value

__all__ = ["Check", "CombinedRunner", "DeferredWrites"]

Write = Insert | Update | Delete
Check = Callable[[int], Awaitable[None]]
"""Given how many rows a deferred write changed; raises to refuse the unit of work."""


class CombinedRunner(DriverSource, Protocol):
    """The unit of work a combined write runs for: its driver, else its connection."""

    async def connect(self) -> AsyncConnection:
        """The SQLAlchemy connection, opened if it was put off."""
        ...


@dataclass(slots=True)
class _Group:
    """One write (``None``: inserts queued before any write) and the inserts that follow it."""

    write: Write | None
    parameters: Mapping[str, Any]
    check: Check | None = None
    conflict: Callable[[], Exception] | None = None
    inserts: list[tuple[Table, dict[str, Any]]] = field(default_factory=list)


class DeferredWrites:
    """The queue of one unit of work."""

    def __init__(self) -> None:
        self._groups: list[_Group] = []

    def __bool__(self) -> bool:
        return bool(self._groups)

    def write(
        self,
        statement: Write,
        parameters: Mapping[str, Any],
        check: Check | None,
        conflict: Callable[[], Exception] | None,
    ) -> None:
        self._groups.append(_Group(statement, parameters, check, conflict))

    def insert(self, table: Table, values: Mapping[str, Any]) -> None:
        if not self._groups:
            self._groups.append(_Group(None, {}))
        self._groups[-1].inserts.append((table, dict(values)))

    def clear(self) -> None:
        self._groups = []

    @property
    def single_statement(self) -> bool:
        """Whether the queue is one write and its inserts (one statement on PostgreSQL)."""
        return len(self._groups) == 1 and self._groups[0].write is not None

    async def run_combined(self, connection: CombinedRunner) -> None:
        """Run the one write and its inserts as one statement (PostgreSQL only)."""
        (group,) = self._groups
        self._groups = []
        assert group.write is not None
        signature = tuple((table, tuple(values)) for table, values in group.inserts)
        parameters = dict(group.parameters)
        for index, (_, values) in enumerate(group.inserts):
            parameters.update({f"acme_f{index}_{key}": value for key, value in values.items()})
        statement = _combined(group.write, signature)
        # On asyncpg, straight to the driver: SQLAlchemy's per-execution work
        # (the statement's cache key, the parameters) cost more than the round trip.
        changed = await driver_value(connection, statement, parameters)
        if changed is None:
            opened = await connection.connect()
            with _conflicts(group):
                result = await opened.execute(statement, parameters)
            changed = result.scalar_one()
        changed = int(changed)
        if group.check is not None:
            await group.check(changed)

    async def run_each(self, connection: AsyncConnection) -> None:
        """Run the queue statement by statement (inside the caller's transaction)."""
        groups, self._groups = self._groups, []
        for group in groups:
            if group.write is not None:
                with _conflicts(group):
                    result = await connection.execute(group.write, group.parameters)
                if group.check is not None:
                    await group.check(result.rowcount)
                if result.rowcount == 0:
                    continue
            for table, values in group.inserts:
                await connection.execute(_insert_into(table), values)


@contextmanager
def _conflicts(group: _Group) -> Iterator[None]:
    """Turn a unique-key violation of the group's write into the component's own error."""
    try:
        yield
    except IntegrityError as exc:
        if group.conflict is None:
            raise
        raise group.conflict() from exc


@lru_cache(maxsize=64)
def _insert_into(table: Table) -> Insert:
    return table.insert()


# Keyed on the write statement object: components build theirs once, at import,
# so this holds one compiled form per write and outbox shape.
@lru_cache(maxsize=256)
def _combined(write: Write, inserts: tuple[tuple[Table, tuple[str, ...]], ...]) -> Select[Any]:
    changed = write.returning(literal_column("1").label("changed")).cte("acme_write")
    statement = select(func.count()).select_from(changed)
    for index, (table, keys) in enumerate(inserts):
        row = select(
            *(bindparam(f"acme_f{index}_{key}", type_=table.c[key].type) for key in keys)
        ).select_from(changed)
        statement = statement.add_cte(
            insert(table).from_select(list(keys), row).cte(f"acme_insert{index}")
        )
    return statement
