"""Core's own tables: the transactional outbox and the processed-messages ledger."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Uuid,
)

from acme.core.persistence.types import UtcDateTime

__all__ = ["metadata", "outbox", "processed_messages"]

metadata = MetaData()

outbox = Table(
    "acme_outbox",
    metadata,
    Column("id", Uuid, primary_key=True, comment="the message id"),
    Column("type", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Column("correlation_id", String(128)),
    Column("payload", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("published_at", UtcDateTime()),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("next_attempt_at", UtcDateTime(), comment="not before; set after a failure"),
    Column("trace_context", JSON, comment="W3C trace context of the write (traceparent...)"),
    Index(
        "ix_acme_outbox_pending",
        "created_at",
        postgresql_where="published_at IS NULL",
        sqlite_where="published_at IS NULL",
    ),
    Index(
        "ix_acme_outbox_published",
        "published_at",
        postgresql_where="published_at IS NOT NULL",
        sqlite_where="published_at IS NOT NULL",
    ),
)

processed_messages = Table(
    "acme_processed_messages",
    metadata,
    Column("consumer", String(200), nullable=False),
    Column("message_id", Uuid, nullable=False),
    Column("processed_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("consumer", "message_id"),
)
