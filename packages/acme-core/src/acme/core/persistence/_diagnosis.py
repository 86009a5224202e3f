"""Why the database could not be reached, in words an operator can act on.

The problem a client gets says only "database unreachable"; the log line says
what the driver said: ``TooManyConnectionsError [SQLSTATE 53300]: too many
connections for role "app"``, ``ConnectionRefusedError: [Errno 111] Connect
call failed ('10.0.0.5', 5432)``. Never the SQL or its parameters (the
wrapper's ``str()`` carries both), never a password.
"""

from __future__ import annotations

import re

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from acme.core.errors import Unavailable

__all__ = ["database_unavailable", "diagnose"]

_MAX_LENGTH = 500
# A URL with a password (user:password@host), should a driver ever quote one.
_URL_PASSWORD = re.compile(r"(://[^:/?#@\s]*:)[^@\s]*@")


def diagnose(error: BaseException) -> str:
    """The driver's exception type, SQLSTATE (when it has one) and message, on one line."""
    source: BaseException = error
    if isinstance(error, DBAPIError) and isinstance(error.orig, BaseException):
        source = error.orig
    # SQLAlchemy's asyncpg adapter wraps the asyncpg exception, which names the cause.
    driver = source.__cause__ if isinstance(source.__cause__, Exception) else source
    sqlstate = _sqlstate(source) or _sqlstate(driver)
    if isinstance(source, SQLAlchemyError):
        # Its str() appends a "Background on this error" link.
        message = str(source.args[0]) if source.args else ""
    else:
        message = str(source)
    label = type(driver).__name__ + (f" [SQLSTATE {sqlstate}]" if sqlstate else "")
    text = " ".join(f"{label}: {message}".split())  # one log line, whatever the driver wrote
    text = _URL_PASSWORD.sub(r"\1***@", text)
    return text if len(text) <= _MAX_LENGTH else text[: _MAX_LENGTH - 3] + "..."


def _sqlstate(error: BaseException) -> str | None:
    for name in ("sqlstate", "pgcode"):
        value = getattr(error, name, None)
        if isinstance(value, str) and value:
            return value
    return None


def database_unavailable(error: BaseException) -> Unavailable:
    """The :class:`Unavailable` for ``error``: generic detail, the driver's words in diagnostic."""
    return Unavailable(
        "database unreachable", code="database_unavailable", diagnostic=diagnose(error)
    )
