"""The per-account item count table (revision ``acc_0003``)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, Table, Uuid

__all__ = ["item_counts", "metadata"]

metadata = MetaData()

item_counts = Table(
    "account_item_counts",
    metadata,
    # No foreign key: events may arrive in any order, an item's before its
    # account's; the count converges once all are in.
    Column("account_id", Uuid, primary_key=True),
    Column("item_count", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
