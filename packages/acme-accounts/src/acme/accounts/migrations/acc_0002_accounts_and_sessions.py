"""Create accounts, sign-in attempts and refresh-token families.

Revision ID: acc_0002
Revises: acc_0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "acc_0002"
down_revision: str | Sequence[str] | None = "acc_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("issuer", sa.String(255), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_sign_in_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("issuer", "subject", name="uq_accounts_identity"),
    )
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
    op.create_table(
        "account_refresh_families",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column(
            "account_id",
            sa.Uuid,
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_reason", sa.String(64)),
    )
    op.create_index(
        "ix_account_refresh_families_account_id", "account_refresh_families", ["account_id"]
    )
    op.create_table(
        "account_refresh_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column(
            "family_id",
            sa.Uuid,
            sa.ForeignKey("account_refresh_families.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_account_refresh_tokens_family_id", "account_refresh_tokens", ["family_id"])


def downgrade() -> None:
    op.drop_index("ix_account_refresh_tokens_family_id", table_name="account_refresh_tokens")
    op.drop_table("account_refresh_tokens")
    op.drop_index("ix_account_refresh_families_account_id", table_name="account_refresh_families")
    op.drop_table("account_refresh_families")
    op.drop_index("ix_account_sign_in_attempts_expires_at", table_name="account_sign_in_attempts")
    op.drop_table("account_sign_in_attempts")
    op.drop_table("accounts")
