"""Several component branches migrated as one history, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import textwrap
import uuid
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from acme.core.errors import Invalid
from acme.core.migrations import Branch, Migrator, discover_branches

REVISION = '''
"""{doc}"""
import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = {down!r}
branch_labels = {labels!r}
depends_on = None


def upgrade() -> None:
{upgrade}


def downgrade() -> None:
{downgrade}
'''


def write_revision(
    folder: Path,
    *,
    rev: str,
    down: str | None,
    labels: tuple[str, ...] | None,
    doc: str,
    upgrade: str,
    downgrade: str,
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").touch()
    body = REVISION.format(
        doc=doc,
        rev=rev,
        down=down,
        labels=labels,
        upgrade=textwrap.indent(textwrap.dedent(upgrade).strip(), "    "),
        downgrade=textwrap.indent(textwrap.dedent(downgrade).strip(), "    "),
    )
    (folder / f"{rev}.py").write_text(body)


@pytest.fixture
def branches(tmp_path: Path) -> tuple[list[Branch], str]:
    """Two branches; the second alters a column, which SQLite can only do in batch mode."""
    suffix = uuid.uuid4().hex[:6]
    alpha, beta = tmp_path / "alpha", tmp_path / "beta"
    a1, b1, b2 = f"a1_{suffix}", f"b1_{suffix}", f"b2_{suffix}"
    write_revision(
        alpha,
        rev=a1,
        down=None,
        labels=(f"alpha{suffix}",),
        doc="create alpha",
        upgrade=f'op.create_table("alpha_{suffix}", sa.Column("id", sa.Integer, primary_key=True))',
        downgrade=f'op.drop_table("alpha_{suffix}")',
    )
    write_revision(
        beta,
        rev=b1,
        down=None,
        labels=(f"beta{suffix}",),
        doc="create beta",
        upgrade=f"""
        op.create_table(
            "beta_{suffix}",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("name", sa.String(10)),
        )
        """,
        downgrade=f'op.drop_table("beta_{suffix}")',
    )
    write_revision(
        beta,
        rev=b2,
        down=b1,
        labels=None,
        doc="widen beta name",
        upgrade=f"""
        with op.batch_alter_table("beta_{suffix}") as batch:
            batch.alter_column("name", type_=sa.String(200), nullable=False, server_default="")
        """,
        downgrade=f"""
        with op.batch_alter_table("beta_{suffix}") as batch:
            batch.alter_column("name", type_=sa.String(10), nullable=True, server_default=None)
        """,
    )
    return [Branch(f"alpha{suffix}", alpha), Branch(f"beta{suffix}", beta)], suffix


async def columns(url: str, table: str) -> dict[str, object]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            found = await connection.run_sync(lambda c: inspect(c).get_columns(table))
            return {c["name"]: c for c in found}
    finally:
        await engine.dispose()


async def test_upgrade_applies_every_branch_head(
    empty_database_url: str, branches: tuple[list[Branch], str]
) -> None:
    found, suffix = branches
    migrator = Migrator(empty_database_url, branches=found)
    pending = await asyncio.to_thread(migrator.pending)
    ids = [line.split(" ")[0] for line in pending]
    assert sorted(ids) == [f"a1_{suffix}", f"b1_{suffix}", f"b2_{suffix}"]
    assert ids.index(f"b1_{suffix}") < ids.index(f"b2_{suffix}")  # oldest first
    assert any("widen beta name" in line for line in pending)

    await asyncio.to_thread(migrator.upgrade)

    assert await asyncio.to_thread(migrator.pending) == []
    assert await asyncio.to_thread(migrator.current) == {f"a1_{suffix}", f"b2_{suffix}"}
    name = (await columns(empty_database_url, f"beta_{suffix}"))["name"]
    assert name["nullable"] is False  # type: ignore[index]

    # Upgrading again is a no-op, not an error.
    await asyncio.to_thread(migrator.upgrade)


async def test_pending_lists_only_what_is_missing(
    empty_database_url: str, branches: tuple[list[Branch], str]
) -> None:
    found, suffix = branches
    migrator = Migrator(empty_database_url, branches=found)
    await asyncio.to_thread(migrator.upgrade, f"b1_{suffix}")
    pending = await asyncio.to_thread(migrator.pending)
    assert sorted(line.split(" ")[0] for line in pending) == [f"a1_{suffix}", f"b2_{suffix}"]
    await asyncio.to_thread(migrator.downgrade, f"beta{suffix}@base")
    assert await asyncio.to_thread(migrator.current) == set()


def test_new_revision_starts_a_branch_then_extends_it(tmp_path: Path, sqlite_url: str) -> None:
    folder = tmp_path / "gamma"
    folder.mkdir()
    migrator = Migrator(sqlite_url, branches=[Branch("gamma", folder)])
    first = migrator.new_revision(branch="gamma", message="create gamma")
    second = migrator.new_revision(branch="gamma", message="extend gamma")
    assert first.parent == folder
    assert "branch_labels: str | Sequence[str] | None = ('gamma',)" in first.read_text()
    assert "down_revision" in second.read_text()
    assert migrator.heads() == {second.name.split("_")[0]}
    with pytest.raises(Invalid, match="unknown migration branch 'delta'"):
        migrator.new_revision(branch="delta", message="x")


def test_installed_branches_are_discovered() -> None:
    names = [branch.name for branch in discover_branches()]
    assert names == sorted(names)
    for branch in discover_branches():
        assert branch.path.is_dir()
    with pytest.raises(Invalid, match="unknown migration branch"):
        discover_branches(["no-such-branch"])


def test_calling_from_a_running_loop_is_refused(sqlite_url: str) -> None:
    migrator = Migrator(sqlite_url, branches=[])

    async def inside_loop() -> None:
        with pytest.raises(RuntimeError, match=r"asyncio\.to_thread"):
            migrator.current()

    asyncio.run(inside_loop())
