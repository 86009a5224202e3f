"""Create the items table and its indexes.

Revision ID: itm_0002
Revises: itm_0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "itm_0002"
down_revision: str | Sequence[str] | None = "itm_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    is_postgresql = op.get_bind().dialect.name == "postgresql"
    tags_type = postgresql.ARRAY(sa.String(50)) if is_postgresql else sa.JSON()
    op.create_table(
        "items",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("owner_id", sa.Uuid, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("tags", tags_type, nullable=False),
        sa.Column("order", sa.Integer, nullable=False),
        sa.Column("meta", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_items_owner_created", "items", ["owner_id", "created_at", "id"])
    op.create_index("ix_items_owner_order", "items", ["owner_id", "order", "created_at", "id"])
    if is_postgresql:
        op.create_index("ix_items_tags", "items", ["tags"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_table("items")
