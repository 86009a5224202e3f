"""The events items publish: versioned contracts for other components.

Every event goes out through the transactional outbox, so it is published
if and only if its change was committed. The routing key is the type.
Consumers must accept fields they do not know (fields may be added without
a new version); a new ``version`` means an incompatible change, and the old
version keeps being published alongside it for one minor release.

``item.created`` v1::

    {"id": UUID, "owner_id": UUID, "title": str, "order": int, "tags": [str],
     "created_at": ISO 8601}

``item.updated`` v1::

    {"id": UUID, "owner_id": UUID, "version": int, "changed": [field name],
     "updated_at": ISO 8601}

``item.deleted`` v1::

    {"id": UUID, "owner_id": UUID}

UUIDs are strings in their canonical form.
"""

from __future__ import annotations

from typing import TypedDict

from acme.core.messaging import Message

from .models import Item

__all__ = [
    "ITEM_CREATED",
    "ITEM_DELETED",
    "ITEM_UPDATED",
    "ItemCreatedV1",
    "ItemDeletedV1",
    "ItemUpdatedV1",
    "item_created",
    "item_deleted",
    "item_updated",
]

ITEM_CREATED = "item.created"
ITEM_UPDATED = "item.updated"
ITEM_DELETED = "item.deleted"


class ItemCreatedV1(TypedDict):
    """Payload of ``item.created`` version 1."""

    id: str
    owner_id: str
    title: str
    order: int
    tags: list[str]
    created_at: str


class ItemUpdatedV1(TypedDict):
    """Payload of ``item.updated`` version 1."""

    id: str
    owner_id: str
    version: int
    changed: list[str]
    updated_at: str


class ItemDeletedV1(TypedDict):
    """Payload of ``item.deleted`` version 1."""

    id: str
    owner_id: str


def item_created(item: Item) -> Message:
    """The ``item.created`` event for a new item."""
    payload: ItemCreatedV1 = {
        "id": str(item.id),
        "owner_id": str(item.owner_id),
        "title": item.title,
        "order": item.order,
        "tags": list(item.tags),
        "created_at": item.created_at.isoformat(),
    }
    return Message(ITEM_CREATED, payload, version=1)


def item_updated(item: Item, changed: list[str]) -> Message:
    """The ``item.updated`` event after ``changed`` fields changed."""
    payload: ItemUpdatedV1 = {
        "id": str(item.id),
        "owner_id": str(item.owner_id),
        "version": item.version,
        "changed": sorted(changed),
        "updated_at": item.updated_at.isoformat(),
    }
    return Message(ITEM_UPDATED, payload, version=1)


def item_deleted(item_id: str, owner_id: str) -> Message:
    """The ``item.deleted`` event."""
    payload: ItemDeletedV1 = {"id": item_id, "owner_id": owner_id}
    return Message(ITEM_DELETED, payload, version=1)
