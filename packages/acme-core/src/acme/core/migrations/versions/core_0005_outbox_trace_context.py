"""Outbox rows keep the trace context of the write that queued them.

The relay continues the trace from it (its publish span is the write's
child), so one trace shows a request, its events and their consumers.
Null when tracing is off.

Revision ID: core_0005
Revises: core_0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "core_0005"
down_revision: str | Sequence[str] | None = "core_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("acme_outbox") as batch:
        batch.add_column(
            sa.Column(
                "trace_context",
                sa.JSON(),
                comment="W3C trace context of the write (traceparent...)",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("acme_outbox") as batch:
        batch.drop_column("trace_context")
