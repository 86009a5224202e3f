"""The ``items`` table: how an :class:`~acme.items.models.Item` is stored.

PostgreSQL keeps tags in a ``varchar[]`` with a GIN index and ``meta`` as
``json`` (stored as sent; it is never queried); SQLite keeps both as JSON
text. The composite indexes lead with the owner, because every query is one
owner's, and end with the keyset columns, so a page deep in a million rows
is one index range scan, as cheap as the first page.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    Uuid,
)
from sqlalchemy.dialects import postgresql

from acme.core.persistence import UtcDateTime

__all__ = ["ITEM_COLUMNS", "PG_TAGS", "items", "metadata"]

metadata = MetaData()


class _TagArray(TypeDecorator[list[str]]):
    """``varchar[]``, read as the driver hands it over.

    asyncpg already decodes a one-dimensional ``varchar[]`` to a ``list[str]``;
    SQLAlchemy's ARRAY would walk every element of every row again to apply
    an item processor that ``String`` does not have.
    """

    impl = postgresql.ARRAY(String(50))
    cache_ok = True

    def result_processor(self, dialect: Any, coltype: object) -> None:
        return None


PG_TAGS = _TagArray()
Tags = JSON().with_variant(PG_TAGS, "postgresql")

# Column order matches the Item dataclass's fields: rows map with Item(*row).
items = Table(
    "items",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("owner_id", Uuid, nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("tags", Tags, nullable=False),
    Column("order", Integer, nullable=False),
    Column("meta", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("version", Integer, nullable=False),
    # The default listing (newest first) and its keyset.
    Index("ix_items_owner_created", "owner_id", "created_at", "id"),
    # Filter by order (newest first within it), and sort by order.
    Index("ix_items_owner_order", "owner_id", "order", "created_at", "id"),
    # Tag filter on PostgreSQL (SQLite scans the owner's rows).
    Index("ix_items_tags", "tags", postgresql_using="gin").ddl_if(dialect="postgresql"),
)

ITEM_COLUMNS = tuple(items.c)
