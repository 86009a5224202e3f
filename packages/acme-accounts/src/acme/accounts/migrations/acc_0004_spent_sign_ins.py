"""Keep finished sign-ins only: a started one lives in the browser's sealed cookie.

``account_sign_in_attempts`` took a row for every ``GET /auth/login``, which
anyone may send without credentials. Its rows are dropped with it: a sign-in
started before the upgrade must be started again.

Revision ID: acc_0004
Revises: acc_0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "acc_0004"
down_revision: str | Sequence[str] | None = "acc_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_account_sign_in_attempts_expires_at", table_name="account_sign_in_attempts")
    op.drop_table("account_sign_in_attempts")
    op.create_table(
        "account_spent_sign_ins",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_account_spent_sign_ins_expires_at", "account_spent_sign_ins", ["expires_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_account_spent_sign_ins_expires_at", table_name="account_spent_sign_ins")
    op.drop_table("account_spent_sign_ins")
    op.create_table(
        "account_sign_in_attempts",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("nonce", sa.String(128), nullable=False),
        sa.Column("code_verifier", sa.String(128), nullable=False),
        sa.Column("return_to", sa.String(2048), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_account_sign_in_attempts_expires_at", "account_sign_in_attempts", ["expires_at"]
    )
