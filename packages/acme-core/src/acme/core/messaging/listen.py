"""Commits of outbox rows, heard across processes: PostgreSQL's LISTEN/NOTIFY.

A statement-level trigger on ``acme_outbox`` (migration ``core_0004``) sends
``NOTIFY acme_outbox`` with every insert; PostgreSQL delivers it when the
transaction commits, to every session listening, in any process. So a relay
in one process (``acme-api relay``, or another worker) wakes when another
commits, instead of at its next poll; the poll stays as the fallback.

It listens on a direct connection of its own, outside the pool: LISTEN
does not pass a pooler in transaction mode (PgBouncer), so give it the
server's own address there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import make_url

__all__ = ["CHANNEL", "CommitListener"]

logger = logging.getLogger(__name__)

CHANNEL = "acme_outbox"


class CommitListener:
    """Calls ``on_commit`` whenever a transaction that wrote outbox rows commits.

    Args:
        url: The PostgreSQL server to listen on (a SQLAlchemy or libpq URL).
        on_commit: Called in the event loop on each notification (keep it cheap:
            ``OutboxRelay.wake``).
        retry_delay: Seconds before reconnecting after the connection is lost.
    """

    def __init__(
        self, url: str, on_commit: Callable[[], None], *, retry_delay: float = 2.0
    ) -> None:
        self._dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._on_commit = on_commit
        self.retry_delay = retry_delay
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    def start(self) -> None:
        """Listen in a background task of the current event loop, reconnecting as needed."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="acme-outbox-listener")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _notified(self, *_args: Any) -> None:
        self._on_commit()

    async def _run(self) -> None:
        while True:
            await self._session()
            await asyncio.sleep(self.retry_delay)

    async def _session(self) -> None:
        """Listen on one connection until it is lost (or cannot be made)."""
        import asyncpg  # the postgres extra; only a PostgreSQL deployment builds a listener

        try:
            connection = await asyncpg.connect(self._dsn, timeout=10)
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            logger.warning("outbox listener cannot connect (%s); polling", type(exc).__name__)
            return
        lost = asyncio.Event()
        try:
            connection.add_termination_listener(lambda _connection: lost.set())
            await connection.add_listener(CHANNEL, self._notified)
            self.listening.set()
            # Rows committed while no one listened are found by this wake-up's poll.
            self._on_commit()
            await lost.wait()
            logger.warning("outbox listener lost its connection; reconnecting")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            logger.warning("outbox listener failed (%s); reconnecting", type(exc).__name__)
        finally:
            self.listening.clear()
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)
