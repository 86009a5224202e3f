"""Async SQLAlchemy persistence: unit of work, generic repository, pagination.

The concrete engine adapter, :class:`acme.core.persistence.database.Database`,
is deliberately not re-exported: only the API's composition root builds it
(an import-linter contract checks that).
"""

from __future__ import annotations

from .pagination import (
    CursorSigner,
    Page,
    SortKey,
    check_position,
    decode_cursor,
    encode_cursor,
    parse_order,
)
from .repository import Repository, SqlRepository
from .types import UtcDateTime
from .unit_of_work import ComponentUnitOfWork, SqlUnitOfWork, UnitOfWork

__all__ = [
    "ComponentUnitOfWork",
    "CursorSigner",
    "Page",
    "Repository",
    "SortKey",
    "SqlRepository",
    "SqlUnitOfWork",
    "UnitOfWork",
    "UtcDateTime",
    "check_position",
    "decode_cursor",
    "encode_cursor",
    "parse_order",
]
