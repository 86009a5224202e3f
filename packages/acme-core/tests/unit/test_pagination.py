from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from acme.core.errors import Malformed
from acme.core.persistence import SortKey, decode_cursor, encode_cursor, parse_order


def test_parse_order_reads_directions() -> None:
    assert parse_order("-created_at, id") == (SortKey("created_at", True), SortKey("id"))
    assert parse_order(["order"]) == (SortKey("order"),)


def test_cursor_round_trips_typed_values() -> None:
    order = parse_order("-created_at,score,id")
    values = [datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), Decimal("1.50"), uuid.uuid4()]
    assert decode_cursor(encode_cursor(order, values), order) == values


@pytest.mark.parametrize(
    "cursor",
    ["", "not-base64!", "e30", "x" * 5000, encode_cursor(parse_order("id"), [1]) + "garbage"],
)
def test_malformed_cursors_are_rejected(cursor: str) -> None:
    with pytest.raises(Malformed) as caught:
        decode_cursor(cursor, parse_order("id"))
    assert caught.value.code == "invalid_cursor"


def test_a_cursor_from_another_order_is_rejected() -> None:
    cursor = encode_cursor(parse_order("id"), [5])
    with pytest.raises(Malformed):
        decode_cursor(cursor, parse_order("-id"))
