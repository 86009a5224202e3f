"""Outbox rows that failed to publish wait before the next attempt.

Revision ID: core_0002
Revises: core_0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "core_0002"
down_revision: str | Sequence[str] | None = "core_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("acme_outbox") as batch:
        batch.add_column(
            sa.Column(
                "next_attempt_at",
                sa.DateTime(timezone=True),
                comment="not before; set after a failure",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("acme_outbox") as batch:
        batch.drop_column("next_attempt_at")
