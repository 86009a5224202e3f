"""Per-account item counts, kept from item events.

Revision ID: acc_0003
Revises: acc_0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "acc_0003"
down_revision: str | Sequence[str] | None = "acc_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_item_counts",
        sa.Column("account_id", sa.Uuid, primary_key=True),
        sa.Column("item_count", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("account_item_counts")
