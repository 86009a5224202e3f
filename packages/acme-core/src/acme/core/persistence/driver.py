"""Hot statements straight from the driver: compiled once, run as asyncpg's prepared statements.

SQLAlchemy's result layer (rows, processors, the compiled-cache lookup) cost
more CPU than the query on a page of a hundred rows. :func:`driver_rows`
runs a select on the asyncpg connection under the unit of work and returns
asyncpg's records as they are: values decoded by asyncpg's own codecs
(``json`` columns stay JSON text). SQLAlchemy still builds and compiles the
statement, once.

It only takes the short way where that changes nothing: on asyncpg, on a
connection in autocommit (a reader, or a unit of work with deferred writes
before its commit), so no transaction of SQLAlchemy's is bypassed. Anywhere
else it answers ``None`` and the caller runs the statement the usual way.
Both take a SQLAlchemy connection or a unit of work (anything with a
``dialect`` and an async ``driver()``, see :class:`DriverSource`): a unit of
work that opens on demand hands out a connection of its driver pool (:mod:`.driver_pool`).
Parameters reach asyncpg as given, without SQLAlchemy's bind processing:
pass UUIDs, numbers, text and aware datetimes.

:func:`driver_value` does the same for a statement that is a whole
transaction on its own (a deferred write and its outbox rows, see
:mod:`acme.core.persistence.deferred`), with the bind processing of the
statement's column types applied (JSON serialised, type decorators run), so
it takes the parameters SQLAlchemy would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from ._diagnosis import database_unavailable

__all__ = ["DriverSource", "autocommit_driver", "driver_rows", "driver_value"]


class DriverSource(Protocol):
    """Where a statement can run straight on asyncpg: a unit of work."""

    @property
    def dialect(self) -> Dialect: ...

    async def driver(self) -> Any | None:
        """An asyncpg connection in autocommit, or ``None`` where there is none."""
        ...


@lru_cache(maxsize=256)
def _compiled(statement: Select[Any], dialect: Dialect) -> tuple[str, tuple[str, ...]]:
    # Keyed on the statement object: build hot selects once, with named parameters.
    compiled = statement.compile(dialect=dialect)
    return str(compiled), tuple(compiled.positiontup or ())


_Processor = Callable[[Any], Any] | None


@lru_cache(maxsize=256)
def _compiled_with_processors(
    statement: ClauseElement, dialect: Dialect
) -> tuple[str, tuple[str, ...], tuple[_Processor, ...]] | None:
    # The bind processors SQLAlchemy would run per execution, looked up once.
    # None: a parameter SQLAlchemy renders per execution (an IN list), not here.
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    if any(bind.expanding or bind.literal_execute for bind in compiled.binds.values()):
        return None
    names = tuple(compiled.positiontup or ())
    processors = tuple(
        compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    )
    return str(compiled), names, processors


async def autocommit_driver(connection: AsyncConnection) -> Any | None:
    """asyncpg's connection under ``connection`` when it is in autocommit, else ``None``."""
    if connection.dialect.driver != "asyncpg":
        return None
    sync = connection.sync_connection
    if sync is not None and not (sync.closed or sync.invalidated):
        raw = sync.connection  # checked out and valid: an attribute, no round trip
    else:
        raw = await connection.get_raw_connection()
    adapter: Any = raw.dbapi_connection
    if adapter is None or not adapter.autocommit:
        return None
    return adapter.driver_connection


async def _driver_of(connection: AsyncConnection | DriverSource) -> Any | None:
    if isinstance(connection, AsyncConnection):
        return await autocommit_driver(connection)
    return await connection.driver()


async def driver_value(
    connection: AsyncConnection | DriverSource,
    statement: ClauseElement,
    parameters: Mapping[str, Any],
) -> Any | None:
    """The first column of the first row of ``statement``, run on asyncpg in autocommit.

    ``None`` where this connection cannot (not asyncpg, or in a transaction)
    and when the statement itself failed: in autocommit a failed statement
    changed nothing, so the caller's ordinary path can run it again and
    report it exactly as SQLAlchemy does (a unique-key violation as
    ``IntegrityError``, say). A connection that broke, a query the server
    cancelled or ran out of resources for is not run twice.

    Raises:
        Unavailable: the server cancelled the statement or the connection failed.
    """
    driver = await _driver_of(connection)
    if driver is None:
        return None
    compiled = _compiled_with_processors(statement, connection.dialect)
    if compiled is None:
        return None
    sql, names, processors = compiled
    try:
        values = [
            parameters[name] if process is None else process(parameters[name])
            for name, process in zip(names, processors, strict=True)
        ]
    except KeyError:
        # A parameter SQLAlchemy fills in itself (a column's Python-side default).
        return None
    try:
        return await driver.fetchval(sql, *values)
    except Exception as exc:
        if _not_worth_repeating(exc):
            raise database_unavailable(exc) from exc
        return None


async def driver_rows(
    connection: AsyncConnection | DriverSource,
    statement: Select[Any],
    parameters: Mapping[str, Any],
) -> Sequence[Sequence[Any]] | None:
    """The rows of ``statement`` from asyncpg, or ``None`` where this connection cannot.

    On a driver error about the statement (a value the column refuses, say)
    it answers ``None``: the caller's ordinary path runs it again (a read has
    no effect to repeat) and reports it exactly as SQLAlchemy does. A query
    the server cancelled (its statement timeout), ran out of resources for,
    or a connection that broke is not run twice, which would double the load
    on a struggling database: it is :class:`~acme.core.errors.Unavailable`.

    Raises:
        Unavailable: the server cancelled the query or the connection failed.
    """
    driver = await _driver_of(connection)
    if driver is None:
        return None
    sql, names = _compiled(statement, connection.dialect)
    try:
        rows: Sequence[Sequence[Any]] = await driver.fetch(
            sql, *(parameters[name] for name in names)
        )
    except Exception as exc:
        if _not_worth_repeating(exc):
            raise database_unavailable(exc) from exc
        # The statement's own failure: the caller's ordinary run reports it as SQLAlchemy would.
        return None
    return rows


# The SQLSTATE classes of failures a second run would only repeat: 08 is a
# connection exception, 53 insufficient resources, 57 operator intervention
# (a statement timeout, a shutdown).
_OUTAGE_CLASSES = ("08", "53", "57")


def _not_worth_repeating(error: BaseException) -> bool:
    if isinstance(error, OSError | TimeoutError):
        return True
    sqlstate = getattr(error, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate[:2] in _OUTAGE_CLASSES
