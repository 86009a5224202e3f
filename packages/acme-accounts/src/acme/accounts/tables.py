"""The accounts tables (SQLAlchemy Core); rows map to :mod:`acme.accounts.models`."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    Uuid,
)

from acme.core.persistence import UtcDateTime

__all__ = ["accounts", "metadata", "refresh_families", "refresh_tokens", "spent_sign_ins"]

metadata = MetaData()

accounts = Table(
    "accounts",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("issuer", String(255), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("display_name", String(100), nullable=False),
    Column("email", String(320)),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_sign_in_at", UtcDateTime()),
    UniqueConstraint("issuer", "subject", name="uq_accounts_identity"),
)

# Finished sign-ins only: a started one lives in the browser's sealed cookie.
spent_sign_ins = Table(
    "account_spent_sign_ins",
    metadata,
    Column("state_hash", String(64), primary_key=True),
    Column("expires_at", UtcDateTime(), nullable=False),
    Index("ix_account_spent_sign_ins_expires_at", "expires_at"),
)

refresh_families = Table(
    "account_refresh_families",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("account_id", Uuid, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime()),
    Column("revoked_reason", String(64)),
    Index("ix_account_refresh_families_account_id", "account_id"),
)

refresh_tokens = Table(
    "account_refresh_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column(
        "family_id",
        Uuid,
        ForeignKey("account_refresh_families.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("issued_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("used_at", UtcDateTime()),
    Index("ix_account_refresh_tokens_family_id", "family_id"),
)
