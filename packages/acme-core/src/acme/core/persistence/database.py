"""The database: one async engine and its connection pool, per process."""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import TYPE_CHECKING, Any, Self

from pydantic_core import from_json
from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DisconnectionError,
    NoSuchModuleError,
    SQLAlchemyError,
)
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from acme.core.errors import Invalid
from acme.core.logging import register_secret

from ._diagnosis import database_unavailable
from .driver_pool import DriverPool, register_driver_pool
from .unit_of_work import SqlUnitOfWork

if TYPE_CHECKING:
    from acme.core.config import AcmeSettings

__all__ = ["Database"]

logger = logging.getLogger(__name__)

# How long a connection of the driver pool may sit idle before it is closed:
# long enough that a pause in traffic does not cost a burst of reconnects
# (each one a TCP and startup handshake plus asyncpg's type introspection).
_DRIVER_IDLE_SECONDS = 60.0
# Below this pool size the driver pool takes none of it (see driver_pool_size).
_SMALLEST_SPLIT_POOL = 16

_MISSING_DRIVER = {
    "asyncpg": "pip install 'acme-core[postgres]'",
    "aiosqlite": "pip install 'acme-core[sqlite]'",
}


class Database:
    """Owns the engine; hands out units of work.

    Build it once at startup (the API's bootstrap) and :meth:`dispose` it at
    shutdown. Nothing connects until first use.

    Args:
        url: A SQLAlchemy async URL: ``postgresql+asyncpg://...`` or
            ``sqlite+aiosqlite:///path.db``.
        pool_size: Connections kept open per process (PostgreSQL), both pools
            together: on asyncpg, ``driver_pool_size`` of them are asyncpg's
            own pool's and the rest SQLAlchemy's.
        max_overflow: Extra connections allowed under bursts (PostgreSQL).
        pool_timeout: Seconds to wait for a free connection before failing.
        pool_pre_ping: Test a pooled connection before use when it has sat
            idle in the pool for ``pre_ping_after`` seconds, so a database
            restart costs a failed ping instead of a failed request. (A ping
            costs three round trips on asyncpg; pinging every checkout would
            triple the cost of a one-query request. A connection in steady
            use that meets a restart fails once, and SQLAlchemy then
            replaces the whole pool.)
        pre_ping_after: Idle seconds after which a connection is pinged.
        statement_timeout_ms: PostgreSQL ``statement_timeout`` (0 disables);
            ignored with ``pgbouncer`` (set it on the role: ``ALTER ROLE ... SET``).
        pgbouncer: ``url`` is a PgBouncer in transaction mode. Each transaction
            may run on another server connection, so nothing is prepared
            across statements (asyncpg's and SQLAlchemy's statement caches are
            0: PgBouncer 1.18 has no ``max_prepared_statements``), and no
            ``statement_timeout`` goes in the startup packet (PgBouncer
            refuses it). Direct connections keep both.
        application_name: Shown in ``pg_stat_activity``.
        driver_pool_size: On PostgreSQL with asyncpg, the share of ``pool_size``
            that goes to the driver pool (:class:`.driver_pool.DriverPool`), for units of
            work that open on demand (see :mod:`.driver_pool`). Default: half
            (rounded down), none below a ``pool_size`` of 16, where SQLAlchemy
            keeps every connection (its share would fall below a consumer's
            default prefetch of 8, each message holding one of its
            connections, beside the relay's); 0: no driver pool. A process holds
            at most ``pool_size + max_overflow`` connections either way, each
            pool opening them only as they are needed. Every process of the
            API (relay and consumers included) splits its pool so. The driver
            pool closes a connection idle for a minute on a later release;
            one that meets a database restart mid-statement fails that
            statement once (``Unavailable``) and is replaced: no ping on
            checkout there.
    """

    def __init__(
        self,
        url: str | URL,
        *,
        pool_size: int = 20,
        max_overflow: int = 0,
        pool_timeout: float = 10.0,
        pool_pre_ping: bool = True,
        pre_ping_after: float = 5.0,
        statement_timeout_ms: int = 30_000,
        application_name: str = "acme",
        echo: bool = False,
        pgbouncer: bool = False,
        driver_pool_size: int | None = None,
    ) -> None:
        try:
            self.url = make_url(url)
        except ArgumentError as exc:
            raise Invalid(f"not a database URL: {exc}") from None
        if self.url.password:
            register_secret(str(self.url.password))
        self.dialect = self.url.get_backend_name()
        # JSON columns are parsed by pydantic-core (Rust), not the json module: a
        # page of rows with a JSON column spent a tenth of its CPU in json.loads.
        # Pre-ping is done by the checkout listener below, only for idle connections.
        kwargs: dict[str, Any] = {"echo": echo, "json_deserializer": from_json}
        driver_connect_args: dict[str, Any] | None = None
        driver_pool_size = _driver_share(pool_size, driver_pool_size, self.url.get_driver_name())
        if self.dialect == "postgresql":
            server_settings = {"application_name": application_name}
            connect_args: dict[str, Any] = {"timeout": pool_timeout}
            if pgbouncer:
                connect_args |= {"statement_cache_size": 0, "prepared_statement_cache_size": 0}
            elif statement_timeout_ms:
                server_settings["statement_timeout"] = str(statement_timeout_ms)
            kwargs |= {
                "pool_size": pool_size - driver_pool_size,
                "max_overflow": max_overflow,
                "pool_timeout": pool_timeout,
                "pool_recycle": 1800,
                "connect_args": {**connect_args, "server_settings": server_settings},
            }
            driver_connect_args = {"timeout": pool_timeout, "server_settings": server_settings}
            if pgbouncer:
                driver_connect_args["statement_cache_size"] = 0
        elif self.dialect == "sqlite":
            kwargs["connect_args"] = {"timeout": pool_timeout}
        try:
            self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        except NoSuchModuleError:
            raise Invalid(
                f"unsupported database URL scheme {self.url.drivername!r}; "
                "use postgresql+asyncpg:// or sqlite+aiosqlite://"
            ) from None
        except ModuleNotFoundError as exc:
            hint = _MISSING_DRIVER.get(self.url.get_driver_name())
            raise Invalid(
                f"the database driver {exc.name!r} is not installed"
                + (f"; run: {hint}" if hint else "")
            ) from None
        self.driver_pool: DriverPool | None = None
        if driver_connect_args is not None and driver_pool_size > 0:
            self.driver_pool = DriverPool(
                self.engine,
                size=driver_pool_size,
                timeout=pool_timeout,
                idle_after=_DRIVER_IDLE_SECONDS,
                connect_args=driver_connect_args,
            )
            register_driver_pool(self.engine, self.driver_pool)
        if self.dialect == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        elif pool_pre_ping:
            event.listen(self.engine.sync_engine, "checkin", _stamp_idle)
            event.listen(
                self.engine.sync_engine, "checkout", partial(_ping_if_idle, after=pre_ping_after)
            )

    @classmethod
    def from_settings(
        cls, settings: AcmeSettings, *, application_name: str = "acme", echo: bool = False
    ) -> Self:
        """The database ``ACME_DATABASE_URL`` names, with the ``ACME_DB_*`` pool, timeouts and
        PgBouncer switch.

        Args:
            settings: The process's settings (:class:`AcmeSettings` or a subclass).
            application_name: Shown in ``pg_stat_activity`` (say which process).
            echo: Log every statement (debugging).
        """
        return cls(
            settings.database_url.get_secret_value(),
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
            statement_timeout_ms=settings.db_statement_timeout_ms,
            application_name=application_name,
            echo=echo,
            pgbouncer=settings.db_pgbouncer,
        )

    @property
    def is_postgresql(self) -> bool:
        return self.dialect == "postgresql"

    def unit_of_work(self) -> SqlUnitOfWork:
        """A new unit of work: ``async with db.unit_of_work() as uow: ...; await uow.commit()``."""
        return SqlUnitOfWork(self.engine)

    def reader(self) -> SqlUnitOfWork:
        """A read-only unit of work without a transaction (hot read paths)."""
        return SqlUnitOfWork(self.engine, read_only=True)

    async def ping(self) -> None:
        """Run ``SELECT 1``.

        Raises:
            Unavailable: the database cannot be reached (``diagnostic`` says why).
        """
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise database_unavailable(exc) from exc

    async def dispose(self) -> None:
        """Close every pooled connection (SQLAlchemy's and the driver pool's)."""
        try:
            if self.driver_pool is not None:
                await self.driver_pool.close()
        finally:
            await self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"


def _driver_share(pool_size: int, asked: int | None, driver: str) -> int:
    """How many of ``pool_size`` go to the driver pool (see ``Database``'s ``driver_pool_size``)."""
    share = asked
    if share is None:
        share = pool_size // 2 if pool_size >= _SMALLEST_SPLIT_POOL else 0
    if not 0 <= share < pool_size:
        raise Invalid(
            f"driver_pool_size must be at least 0 and below pool_size ({pool_size}), not {share}"
        )
    return share if driver == "asyncpg" else 0


def _stamp_idle(_dbapi_connection: Any, record: Any) -> None:
    record.info["acme_idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any, *, after: float) -> None:
    """Pessimistic disconnect handling, for connections that sat idle a while."""
    since = record.info.get("acme_idle_since")
    if since is None or time.monotonic() - since < after:
        return
    try:
        dbapi_connection.ping()
    except Exception as exc:
        # The pool discards this connection and checks out (or opens) another.
        raise DisconnectionError(f"stale pooled connection: {type(exc).__name__}") from exc


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()
