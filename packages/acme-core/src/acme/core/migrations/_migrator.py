"""Discovery of component branches and the alembic commands run on them."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import ResolutionError
from sqlalchemy import Connection
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from acme.core.errors import Invalid, Unavailable

__all__ = ["ENTRY_POINT_GROUP", "Branch", "Migrator", "discover_branches"]

ENTRY_POINT_GROUP = "acme.migrations"
_ENV_DIR = Path(__file__).with_name("alembic")

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Branch:
    """One component's migration branch: its label and where its revisions live."""

    name: str
    path: Path


def discover_branches(names: Iterable[str] | None = None) -> list[Branch]:
    """Every installed branch (or only ``names``), sorted by name.

    Raises:
        Invalid: a named branch is not installed, or an entry point is broken.
    """
    branches: dict[str, Branch] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            module = import_module(point.value)
        except ImportError as exc:
            raise Invalid(f"migration branch {point.name!r} cannot be imported: {exc}") from exc
        if module.__file__ is None:
            raise Invalid(f"migration branch {point.name!r} is not a package with a directory")
        branches[point.name] = Branch(point.name, Path(module.__file__).parent)
    if names is not None:
        wanted = list(names)
        missing = sorted(set(wanted) - set(branches))
        if missing:
            raise Invalid(f"unknown migration branch(es): {', '.join(missing)}")
        return [branches[name] for name in sorted(wanted)]
    return [branches[name] for name in sorted(branches)]


class Migrator:
    """Runs alembic over every discovered branch against one database.

    The calls are synchronous (they run their own event loop for the async
    driver); from async code, call them through ``asyncio.to_thread``.

    Args:
        url: The database URL (async driver).
        branches: The branches to manage; every installed one by default.
    """

    def __init__(self, url: str | URL, *, branches: Iterable[Branch] | None = None) -> None:
        self.url = make_url(url)
        self.branches = list(discover_branches() if branches is None else branches)

    def config(self) -> Config:
        """An alembic config for these branches (no ini file needed)."""
        cfg = Config()
        cfg.set_main_option("script_location", str(_ENV_DIR))
        cfg.set_main_option("path_separator", "os")
        cfg.set_main_option(
            "version_locations", os.pathsep.join(str(branch.path) for branch in self.branches)
        )
        cfg.attributes["url"] = self.url
        return cfg

    def upgrade(self, target: str = "heads") -> None:
        """Apply every pending revision of every branch (or up to ``target``).

        Raises:
            Unavailable: the database cannot be reached.
        """
        if not self.branches:
            logger.info("no migration branches installed")
            return
        with _database_errors():
            command.upgrade(self.config(), target)

    def downgrade(self, target: str) -> None:
        """Revert to ``target`` (``items@base``, a revision id, ...)."""
        with _database_errors():
            command.downgrade(self.config(), target)

    def heads(self) -> set[str]:
        """The newest revision of every branch."""
        return set(ScriptDirectory.from_config(self.config()).get_heads())

    def current(self) -> set[str]:
        """The revisions the database is at."""
        return set(
            self._with_connection(lambda c: MigrationContext.configure(c).get_current_heads())
        )

    def pending(self) -> list[str]:
        """Revisions not yet applied, oldest first, as ``"<id> (<branch>) <message>"``."""
        if not self.branches:
            return []
        script = ScriptDirectory.from_config(self.config())
        applied: set[str] = set()
        current = tuple(self.current())
        if current:
            applied = {rev.revision for rev in script.iterate_revisions(current, "base")}
        wanted = [rev for rev in script.walk_revisions() if rev.revision not in applied]
        wanted.reverse()
        return [
            f"{rev.revision} ({','.join(sorted(rev.branch_labels)) or '-'}) {rev.doc}"
            for rev in wanted
        ]

    def new_revision(self, *, branch: str, message: str) -> Path:
        """Create an empty revision on ``branch`` (starting the branch if it has none)."""
        matches = [b for b in self.branches if b.name == branch]
        if not matches:
            raise Invalid(f"unknown migration branch {branch!r}")
        cfg = self.config()
        script = ScriptDirectory.from_config(cfg)
        try:
            script.revision_map.get_revision(f"{branch}@head")
            has_branch = True
        except ResolutionError:  # the branch has no revision yet
            has_branch = False
        kwargs: dict[str, Any] = {"message": message, "version_path": str(matches[0].path)}
        if has_branch:
            kwargs["head"] = f"{branch}@head"
        else:
            kwargs |= {"head": "base", "branch_label": branch}
        result = command.revision(cfg, **kwargs)
        scripts = result if isinstance(result, list) else [result]
        return Path(scripts[0].path) if scripts and scripts[0] is not None else matches[0].path

    def _with_connection(self, work: Any) -> Any:
        async def run() -> Any:
            engine = create_async_engine(self.url, poolclass=NullPool)
            async with settled_driver_threads():
                try:
                    async with engine.connect() as connection:
                        return await connection.run_sync(work)
                finally:
                    await engine.dispose()

        return _run(run())


@asynccontextmanager
async def settled_driver_threads() -> AsyncIterator[None]:
    """On the way out, wait for driver threads started inside to end, while the loop runs.

    After a failed connect, aiosqlite stops its worker thread without awaiting
    it; if ``asyncio.run`` then closes the loop first, the thread dies printing
    a traceback ("Event loop is closed") over the clear error message.
    """
    before = set(threading.enumerate())
    try:
        yield
    finally:
        started = [
            t
            for t in threading.enumerate()
            if t not in before and t is not threading.current_thread()
        ]
        if started:
            await asyncio.to_thread(_join_all, started)


def _join_all(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(timeout=5)


@contextmanager
def _database_errors() -> Iterator[None]:
    """Turn a connection failure into :class:`Unavailable` with the driver's reason."""
    try:
        yield
    except (OperationalError, InterfaceError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "orig", None) or exc
        raise Unavailable(
            f"database unreachable: {type(reason).__name__}: {reason}".strip(),
            code="database_unavailable",
        ) from exc


def _run(coroutine: Any) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    coroutine.close()
    raise RuntimeError("Migrator calls are synchronous; use asyncio.to_thread from async code")


def run_migrations(connection: Connection, *, target_metadata: Any = None) -> None:
    """Used by the alembic environment: configure the context on a connection and migrate."""
    from alembic import context

    is_sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=is_sqlite,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Two replicas migrating at once: the second waits, then finds nothing to do.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7264823001)")
        context.run_migrations()
