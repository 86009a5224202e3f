from __future__ import annotations

import uuid

from acme.core.messaging import Message
from acme.items import events
from acme.items.models import Item


def test_event_payloads_are_json_and_versioned() -> None:
    item = Item.new(owner_id=uuid.uuid4(), title="t", tags=["a"], order=4)
    created = events.item_created(item)
    assert (created.type, created.version) == ("item.created", 1)
    assert created.payload == {
        "id": str(item.id),
        "owner_id": str(item.owner_id),
        "title": "t",
        "order": 4,
        "tags": ["a"],
        "created_at": item.created_at.isoformat(),
    }
    item.change({"order": 5, "title": "u"})
    updated = events.item_updated(item, ["title", "order"])
    assert updated.payload["changed"] == ["order", "title"]
    assert updated.payload["version"] == 2
    deleted = events.item_deleted(str(item.id), str(item.owner_id))
    assert deleted.payload == {"id": str(item.id), "owner_id": str(item.owner_id)}
    for message in (created, updated, deleted):
        assert Message.from_json(message.to_json()) == message
