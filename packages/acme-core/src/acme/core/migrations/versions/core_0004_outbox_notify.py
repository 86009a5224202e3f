"""Notify listeners when outbox rows are written (PostgreSQL), so relays in other processes wake.

One ``NOTIFY acme_outbox`` per inserting statement, delivered at commit
(PostgreSQL folds the same notification within one transaction into one).
SQLite has one process and nothing to notify.

Revision ID: core_0004
Revises: core_0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "core_0004"
down_revision: str | Sequence[str] | None = "core_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE FUNCTION acme_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_notify('acme_outbox', ''); RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER acme_outbox_notify AFTER INSERT ON acme_outbox "
        "FOR EACH STATEMENT EXECUTE FUNCTION acme_outbox_notify()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS acme_outbox_notify ON acme_outbox")
    op.execute("DROP FUNCTION IF EXISTS acme_outbox_notify()")
