"""Items and their rules: plain dataclasses, standard library only."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "DESCRIPTION_MAX",
    "EDITABLE_FIELDS",
    "ORDER_MAX",
    "ORDER_MIN",
    "SORT_KEYS",
    "TAGS_MAX",
    "TAG_MAX",
    "TITLE_MAX",
    "Item",
    "ItemFilter",
    "ItemSort",
    "RenderedPage",
    "normalise_tags",
    "utcnow",
]

TITLE_MAX = 200
DESCRIPTION_MAX = 10_000
TAGS_MAX = 20
TAG_MAX = 50
ORDER_MIN = -(2**31)
ORDER_MAX = 2**31 - 1
EDITABLE_FIELDS = ("title", "description", "tags", "order", "meta")

ItemSort = Literal["-created_at", "created_at", "order", "-order"]
# Each listing sort and the keyset columns it pages by ("-": descending; the
# id is appended as the tie-breaker). The only definition: the query schema,
# the SQL repository (whose indexes serve each one, see tables.py) and the
# fakes read it here.
SORT_KEYS: Mapping[ItemSort, tuple[str, ...]] = {
    "-created_at": ("-created_at",),
    "created_at": ("created_at",),
    "order": ("order", "created_at"),
    "-order": ("-order", "-created_at"),
}


def utcnow() -> datetime:
    """The current time in UTC (the only time zone items are stored in)."""
    return datetime.now(UTC)


def normalise_tags(tags: Iterable[str]) -> list[str]:
    """Tags are a set kept in the order first given: duplicates are dropped."""
    return list(dict.fromkeys(tags))


@dataclass(slots=True)
class Item:
    """Something an account owns.

    ``version`` starts at 1 and grows by one with every change; callers
    that update say which version they saw (optimistic concurrency).
    The field order is the column order of the ``items`` table.
    """

    id: uuid.UUID
    owner_id: uuid.UUID
    title: str
    description: str
    tags: list[str]
    order: int
    meta: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    version: int = 1

    @classmethod
    def new(
        cls,
        *,
        owner_id: uuid.UUID,
        title: str,
        description: str = "",
        tags: Iterable[str] = (),
        order: int = 0,
        meta: Mapping[str, Any] | None = None,
        now: datetime | None = None,
    ) -> Item:
        """A new item, version 1, created now."""
        created = now or utcnow()
        return cls(
            id=uuid.uuid4(),
            owner_id=owner_id,
            title=title,
            description=description,
            tags=normalise_tags(tags),
            order=order,
            meta=dict(meta or {}),
            created_at=created,
            updated_at=created,
        )

    def change(self, changes: Mapping[str, Any], *, now: datetime | None = None) -> list[str]:
        """Apply new field values; return the names of the fields that really changed.

        A change that alters nothing leaves the version and times alone.

        Raises:
            KeyError: a field that cannot be edited.
        """
        changed = []
        for name, value in changes.items():
            if name not in EDITABLE_FIELDS:
                raise KeyError(name)
            new_value = normalise_tags(value) if name == "tags" else value
            if getattr(self, name) != new_value:
                setattr(self, name, new_value)
                changed.append(name)
        if changed:
            self.version += 1
            self.updated_at = now or utcnow()
        return changed

    def is_owned_by(self, owner_id: uuid.UUID) -> bool:
        """Whether ``owner_id`` owns this item."""
        return self.owner_id == owner_id


@dataclass(frozen=True, slots=True)
class ItemFilter:
    """What a listing is narrowed to (always one owner's items)."""

    owner_id: uuid.UUID
    order: int | None = None
    tag: str | None = None
    title_prefix: str | None = None


@dataclass(frozen=True, slots=True)
class RenderedPage:
    """A page already in its JSON form: the array of items, and the next page's cursor.

    What a listing answers on the hot path: the repository renders rows
    straight to JSON, without an :class:`Item` per row. (Also importable from
    :mod:`acme.items.serializers`, where it was first published.)
    """

    items_json: bytes
    next_cursor: str | None
