"""What counts as the database being out of reach, and closing a connection that may be gone."""

from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["cannot_connect", "close_quietly", "is_outage", "unreachable"]

logger = logging.getLogger("acme.core.persistence.unit_of_work")

# SQLSTATE: class 08 (connection exception), and the server shutting down,
# crashed or not accepting connections yet (57P01-57P03); not 57014, a
# cancelled statement.
_OUTAGE_SQLSTATE_CLASSES = ("08",)
_OUTAGE_SQLSTATES = ("57P01", "57P02", "57P03")


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` means the database could not be reached or the connection was lost.

    PEP 249's OperationalError and InterfaceError, a connection SQLAlchemy has
    invalidated, a server that is shutting down or starting up, or no pooled
    connection free in time.
    """
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        sqlstate = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
        if isinstance(sqlstate, str) and (
            sqlstate in _OUTAGE_SQLSTATES or sqlstate[:2] in _OUTAGE_SQLSTATE_CLASSES
        ):
            return True
    return isinstance(error, OperationalError | InterfaceError | PoolTimeout)


def unreachable(error: BaseException) -> bool:
    # Connecting and committing only talk to the server: a socket error there is the server's.
    return is_outage(error) or isinstance(error, OSError | TimeoutError)


def cannot_connect(error: BaseException) -> bool:
    # Whatever the driver says while a connection is being made, none was made.
    return unreachable(error) or isinstance(error, DBAPIError)


async def close_quietly(connection: AsyncConnection) -> None:
    """Close a connection; closing one the server already dropped must not mask the cause."""
    try:
        await connection.close()
    except Exception as exc:
        if not unreachable(exc):
            raise
        logger.debug("closing a lost connection failed: %s", type(exc).__name__)
