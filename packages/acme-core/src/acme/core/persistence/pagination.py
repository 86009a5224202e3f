"""Keyset (cursor) pagination: pages that stay fast however deep they go.

A cursor names the position after the last row of a page: the values of the
sort columns there. It reaches the client and comes back, so two things keep
a forged one out of the database: :class:`CursorSigner` seals what the server
hands out with an HMAC bound to the listing (a tampered or foreign cursor is
refused before it is decoded), and :func:`check_position` checks each decoded
value against its column's type and range, so nothing a driver would choke on
is ever bound to a query. Both refuse with :class:`Malformed`
(``invalid_cursor``, a 400 at the API).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import BigInteger, Boolean, Date, DateTime, Float, Integer, Numeric, SmallInteger
from sqlalchemy import String as SqlString
from sqlalchemy import Uuid as SqlUuid
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from acme.core.errors import FieldError, Malformed

from .types import UtcDateTime

__all__ = [
    "CursorSigner",
    "Page",
    "SortKey",
    "check_position",
    "decode_cursor",
    "encode_cursor",
    "parse_order",
]

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


def _invalid_cursor() -> Malformed:
    return Malformed(
        "the cursor is malformed or does not belong to this listing",
        code="invalid_cursor",
        errors=[FieldError(("query", "cursor"), "malformed cursor", "invalid_cursor")],
    )


def decode_cursor(cursor: str, order: Sequence[SortKey]) -> list[Any]:
    """The row position a cursor stands for.

    Raises:
        Malformed: the cursor is malformed or was made for another sort order.
    """
    bad = _invalid_cursor()
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


def _integer_range(bits: int) -> Callable[[Any], bool]:
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1)
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v < high


def _is_plain_int(value: Any) -> bool:
    # A float column takes an int, not a bool, nor one too large to convert.
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**53


def _is_text(value: Any) -> bool:
    if not isinstance(value, str) or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# What each column type can be bound to without a driver error, most specific
# first (BigInteger and SmallInteger are Integers; UtcDateTime refuses naive times).
_FITS: tuple[tuple[type[TypeEngine[Any]], Callable[[Any], bool]], ...] = (
    (UtcDateTime, lambda v: isinstance(v, datetime) and v.utcoffset() is not None),
    (Boolean, lambda v: isinstance(v, bool)),
    (BigInteger, _integer_range(64)),
    (SmallInteger, _integer_range(16)),
    (Integer, _integer_range(32)),
    (Float, lambda v: (isinstance(v, float) and math.isfinite(v)) or _is_plain_int(v)),
    (Numeric, lambda v: isinstance(v, Decimal) and v.is_finite()),
    (DateTime, lambda v: isinstance(v, datetime)),
    (Date, lambda v: isinstance(v, date) and not isinstance(v, datetime)),
    (SqlUuid, lambda v: isinstance(v, uuid.UUID)),
    (SqlString, _is_text),
)


def _fits(column_type: TypeEngine[Any], value: Any) -> bool:
    """Whether ``value`` can be bound to a column of this type without a driver error."""
    for kind in (column_type, getattr(column_type, "impl_instance", None)):
        for known, fits in _FITS:
            if isinstance(kind, known):
                return fits(value)
    try:
        return isinstance(value, column_type.python_type)
    except NotImplementedError:
        return False


def check_position(columns: Sequence[ColumnElement[Any]], values: Sequence[Any]) -> None:
    """Refuse a decoded cursor position that its columns cannot hold.

    Raises:
        Malformed: a value of the wrong type or out of its column's range
            (``invalid_cursor``).
    """
    if len(columns) != len(values) or not all(
        _fits(column.type, value) for column, value in zip(columns, values, strict=True)
    ):
        raise _invalid_cursor()


class CursorSigner:
    """Seals cursors with an HMAC-SHA256, so a client can only hand back one the server made.

    The MAC covers the cursor and a *context* naming the listing (its owner,
    filters and sort), so a cursor of another listing or another account is
    refused as surely as a tampered one. The first secret signs; every one
    verifies, so secrets rotate (give it the new one first, keep the old one
    while its cursors may still come back).

    Args:
        secrets: 16 bytes or more each; the first signs.

    Raises:
        ValueError: no secret, or one shorter than 16 bytes.
    """

    def __init__(self, secrets: Sequence[bytes]) -> None:
        if not secrets or any(len(secret) < 16 for secret in secrets):
            raise ValueError("a cursor signer needs one or more secrets of 16 bytes or more")
        self._keys = {_key_id(secret): secret for secret in secrets}
        self._signing = _key_id(secrets[0])

    @classmethod
    def ephemeral(cls) -> CursorSigner:
        """A signer with a random secret: its cursors work in this process only."""
        return cls([secrets.token_bytes(32)])

    def seal(self, cursor: str | None, context: str) -> str | None:
        """The cursor with its key id and MAC appended (``None`` stays ``None``)."""
        if cursor is None:
            return None
        key_id = self._signing
        return f"{cursor}.{key_id}.{self._mac(self._keys[key_id], cursor, context)}"

    def open(self, sealed: str | None, context: str) -> str | None:
        """The cursor inside a sealed one, if this signer made it for this context.

        Raises:
            Malformed: not sealed, sealed by an unknown key, for another
                context, or altered (``invalid_cursor``).
        """
        if sealed is None:
            return None
        cursor, _, rest = sealed.partition(".")
        key_id, _, mac = rest.partition(".")
        secret = self._keys.get(key_id)
        if secret is None or not hmac.compare_digest(
            mac.encode("ascii", "replace"), self._mac(secret, cursor, context).encode("ascii")
        ):
            raise _invalid_cursor()
        return cursor

    @staticmethod
    def _mac(secret: bytes, cursor: str, context: str) -> str:
        message = f"{len(context)}:{context}:{cursor}".encode("utf-8", "surrogatepass")
        digest = hmac.new(secret, message, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def __repr__(self) -> str:
        return f"CursorSigner(keys={len(self._keys)})"


def _key_id(secret: bytes) -> str:
    """A short public name for a secret (a hash of it; it reveals nothing usable)."""
    digest = hashlib.sha256(b"acme cursor key id\x00" + secret).digest()[:6]
    return base64.urlsafe_b64encode(digest).decode("ascii")
