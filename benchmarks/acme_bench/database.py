"""A fresh PostgreSQL database per benchmark run, migrated by the version under test."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

__all__ = ["DEFAULT_ADMIN_URL", "BenchDatabase", "DatabaseError"]

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PREFIX = "acme_bench_"


class DatabaseError(RuntimeError):
    """PostgreSQL is unreachable, or a migration failed."""


def _with_database(url: str, name: str, *, scheme: str | None = None) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme=scheme or parts.scheme, path=f"/{name}"))


@dataclass(frozen=True, slots=True)
class BenchDatabase:
    """A database created for one run, on the server of ``admin_url``."""

    admin_url: str
    name: str

    @classmethod
    def create(cls, admin_url: str = DEFAULT_ADMIN_URL, *, label: str = "") -> BenchDatabase:
        """Create an empty, uniquely named database.

        Raises:
            DatabaseError: PostgreSQL cannot be reached.
        """
        suffix = f"{label}_" if label else ""
        database = cls(admin_url, f"{PREFIX}{suffix}{secrets.token_hex(4)}")
        asyncio.run(database._admin(f'CREATE DATABASE "{database.name}"'))
        return database

    def clone(self, *, label: str) -> BenchDatabase:
        """A new database copied from this one (schema and rows), by PostgreSQL's TEMPLATE.

        Nobody may be connected to this database meanwhile.

        Raises:
            DatabaseError: PostgreSQL refused.
        """
        copy = BenchDatabase(self.admin_url, f"{PREFIX}{label}_{secrets.token_hex(4)}")
        try:
            asyncio.run(copy._admin(f'CREATE DATABASE "{copy.name}" TEMPLATE "{self.name}"'))
        except asyncpg.PostgresError as exc:
            raise DatabaseError(f"cannot copy {self.name}: {exc}") from exc
        return copy

    async def _admin(self, sql: str) -> None:
        try:
            connection = await asyncpg.connect(self.admin_url, timeout=10)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            raise DatabaseError(f"PostgreSQL at {self.admin_url}: {exc}") from exc
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    @property
    def dsn(self) -> str:
        """The plain libpq URL (asyncpg, psql)."""
        return _with_database(self.admin_url, self.name, scheme="postgresql")

    @property
    def sqlalchemy_url(self) -> str:
        """The URL the API takes as ``ACME_DATABASE_URL``."""
        return _with_database(self.admin_url, self.name, scheme="postgresql+asyncpg")

    def drop(self) -> None:
        """Drop the database, closing any session still on it."""
        if self.name.startswith(PREFIX):
            asyncio.run(self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))

    def migrate(self, bin_dir: Path, env: Mapping[str, str]) -> None:
        """Apply every migration with the ``acme-api`` of the version under test.

        Raises:
            DatabaseError: the migration command failed.
        """
        completed = subprocess.run(
            [str(bin_dir / "acme-api"), "migrate"],
            env={**os.environ, **env, "ACME_DATABASE_URL": self.sqlalchemy_url},
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise DatabaseError(
                f"acme-api migrate failed ({completed.returncode}):\n"
                f"{completed.stdout}\n{completed.stderr}".strip()
            )

    def analyze(self) -> None:
        """Refresh the planner's statistics after seeding."""

        async def run() -> None:
            connection = await asyncpg.connect(self.dsn, timeout=10)
            try:
                await connection.execute("VACUUM ANALYZE")
            finally:
                await connection.close()

        asyncio.run(run())
