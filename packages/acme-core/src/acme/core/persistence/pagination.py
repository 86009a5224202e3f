"""Keyset (cursor) pagination: pages that stay fast however deep they go."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from acme.core.errors import FieldError, Malformed

__all__ = ["Page", "SortKey", "decode_cursor", "encode_cursor", "parse_order"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SortKey:
    """One column of a sort order."""

    column: str
    descending: bool = False

    def __str__(self) -> str:
        return f"-{self.column}" if self.descending else self.column


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of results and the cursor of the next one (``None`` on the last page)."""

    items: list[T]
    next_cursor: str | None


def parse_order(spec: Sequence[str] | str) -> tuple[SortKey, ...]:
    """Turn ``["-created_at", "id"]`` (or ``"-created_at,id"``) into sort keys."""
    parts = spec.split(",") if isinstance(spec, str) else list(spec)
    keys = []
    for part in parts:
        name = part.strip()
        if not name:
            continue
        keys.append(SortKey(name[1:], True) if name.startswith("-") else SortKey(name))
    return tuple(keys)


def _to_json(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, Decimal):
        return {"dec": str(value)}
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((tag, raw),) = value.items()
        if not isinstance(raw, str):
            raise ValueError("bad cursor value")
        if tag == "u":
            return uuid.UUID(raw)
        if tag == "dt":
            return datetime.fromisoformat(raw)
        if tag == "d":
            return date.fromisoformat(raw)
        if tag == "dec":
            return Decimal(raw)
    if isinstance(value, (dict, list)):
        raise ValueError("bad cursor value")
    return value


def encode_cursor(order: Sequence[SortKey], values: Sequence[Any]) -> str:
    """An opaque, URL-safe token for the position after a row."""
    document = {"o": [str(key) for key in order], "v": [_to_json(v) for v in values]}
    raw = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, order: Sequence[SortKey]) -> list[Any]:
    """The row position a cursor stands for.

    Raises:
        Malformed: the cursor is malformed or was made for another sort order.
    """
    bad = Malformed(
        "the cursor is malformed or does not belong to this listing",
        code="invalid_cursor",
        errors=[FieldError(("query", "cursor"), "malformed cursor", "invalid_cursor")],
    )
    if len(cursor) > 2048:
        raise bad
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        document = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if not isinstance(document, dict) or document.get("o") != [str(k) for k in order]:
            raise ValueError("cursor for another order")
        values = document.get("v")
        if not isinstance(values, list) or len(values) != len(order):
            raise ValueError("cursor arity")
        return [_from_json(v) for v in values]
    except (ValueError, TypeError, UnicodeError, binascii.Error):
        raise bad from None
