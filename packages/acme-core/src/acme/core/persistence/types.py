"""Column types every component's tables share."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = ["UtcDateTime"]


class UtcDateTime(TypeDecorator[datetime]):
    """A point in time, always read back as an aware UTC ``datetime``.

    A naive value is refused on the way in, on every database: its instant is
    unknown. PostgreSQL (``timestamptz``) stores the instant and hands back
    aware values, so nothing runs per row read there. SQLite stores text
    without a zone: values are converted to UTC on the way in and get UTC
    back on the way out.
    Components use it for every time column instead of fixing rows up.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        inner = self.impl_instance.dialect_impl(dialect).bind_processor(dialect)
        to_utc = dialect.name == "sqlite"  # PostgreSQL stores the instant itself

        def checked(value: Any) -> Any:
            if isinstance(value, datetime):
                if value.tzinfo is None:
                    # asyncpg would read it as the server's local time, SQLite as UTC.
                    raise ValueError(f"a naive datetime has no instant to store: {value!r}")
                if to_utc:
                    value = value.astimezone(UTC)
            return inner(value) if inner is not None else value

        return checked

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> Callable[[Any], datetime | None] | None:
        inner = self.impl_instance.dialect_impl(dialect).result_processor(dialect, coltype)
        if dialect.name != "sqlite":
            return inner

        def aware(value: Any) -> datetime | None:
            if inner is not None:
                value = inner(value)
            if value is not None and value.tzinfo is None:
                return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
            return value  # type: ignore[no-any-return]

        return aware
