from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acme.core.errors import Malformed
from acme.core.persistence import CursorSigner, SortKey, decode_cursor, encode_cursor, parse_order
from acme.core.security import KeySet


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


LISTING = '["items","alice"]'


def _flip(text: str, index: int) -> str:
    swapped = "A" if text[index] != "A" else "B"
    return text[:index] + swapped + text[index + 1 :]


def test_a_sealed_cursor_opens_only_for_its_own_listing() -> None:
    signer = CursorSigner([b"k" * 32])
    sealed = signer.seal("abc", LISTING)
    assert sealed is not None
    assert sealed.startswith("abc.")
    assert signer.open(sealed, LISTING) == "abc"
    assert signer.seal(None, LISTING) is None
    assert signer.open(None, LISTING) is None
    refused = [
        "abc",  # never sealed
        sealed + "x",
        sealed.replace("abc", "abd", 1),  # another position
        CursorSigner([b"o" * 32]).seal("abc", LISTING),  # another deployment's key
        *(_flip(sealed, index) for index in range(len(sealed)) if sealed[index] != "."),
    ]
    for cursor in refused:
        with pytest.raises(Malformed) as caught:
            signer.open(cursor, LISTING)
        assert caught.value.code == "invalid_cursor"
    with pytest.raises(Malformed):
        signer.open(sealed, '["items","bob"]')


def test_cursors_survive_a_key_rotation() -> None:
    old, new = b"o" * 32, b"n" * 32
    sealed_before = CursorSigner([old]).seal("abc", LISTING)
    rotated = CursorSigner([new, old])
    assert rotated.open(sealed_before, LISTING) == "abc"
    sealed_after = rotated.seal("abc", LISTING)
    assert sealed_after != sealed_before
    with pytest.raises(Malformed):
        CursorSigner([old]).open(sealed_after, LISTING)


def test_a_signer_needs_real_secrets() -> None:
    for secrets in ([], [b"short"]):
        with pytest.raises(ValueError, match="16 bytes"):
            CursorSigner(secrets)
    with pytest.raises(Malformed):  # each ephemeral signer has a secret of its own
        CursorSigner.ephemeral().open(CursorSigner.ephemeral().seal("a", "l"), "l")


@given(st.text(max_size=300))
def test_no_string_opens_or_crashes_the_signer(text: str) -> None:
    with pytest.raises(Malformed):
        CursorSigner([b"k" * 32]).open(text, LISTING)


def test_key_sets_derive_stable_secrets_per_purpose() -> None:
    keys = KeySet.generate()
    first = keys.derived_secrets("cursors")
    assert first == keys.derived_secrets("cursors")
    assert first != keys.derived_secrets("something else")
    assert [len(secret) for secret in first] == [32]
    assert first != KeySet.generate().derived_secrets("cursors")
