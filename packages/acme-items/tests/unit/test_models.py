from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from acme.items.models import Item, normalise_tags

OWNER = uuid.uuid4()
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_new_item_starts_at_version_one() -> None:
    item = Item.new(owner_id=OWNER, title="t", tags=["a", "b", "a"], now=T0)
    assert (item.version, item.created_at, item.updated_at) == (1, T0, T0)
    assert item.tags == ["a", "b"]
    assert item.is_owned_by(OWNER)
    assert not item.is_owned_by(uuid.uuid4())


def test_changes_bump_the_version_once_and_report_what_changed() -> None:
    item = Item.new(owner_id=OWNER, title="t", order=1, now=T0)
    later = T0 + timedelta(minutes=1)
    changed = item.change({"title": "u", "order": 1, "tags": ["x", "x"]}, now=later)
    assert sorted(changed) == ["tags", "title"]
    assert (item.version, item.updated_at, item.tags) == (2, later, ["x"])


def test_a_change_to_the_same_values_is_no_change() -> None:
    item = Item.new(owner_id=OWNER, title="t", now=T0)
    assert item.change({"title": "t"}, now=T0 + timedelta(1)) == []
    assert (item.version, item.updated_at) == (1, T0)


def test_only_editable_fields_change() -> None:
    item = Item.new(owner_id=OWNER, title="t")
    with pytest.raises(KeyError):
        item.change({"owner_id": uuid.uuid4()})


def test_tags_keep_their_first_order() -> None:
    assert normalise_tags(["b", "a", "b", "c", "a"]) == ["b", "a", "c"]
