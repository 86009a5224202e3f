"""How many items each account owns, kept from the items component's events.

Accounts never import items: it learns about items only from the versioned
``item.created`` and ``item.deleted`` events (documented by the items
component) and ``account.created``, consumed through core's idempotent
consumer, so a redelivered event is counted once. The count is eventually
consistent: it catches up as soon as the events are delivered.
"""

from __future__ import annotations

from .consumer import (
    CONSUMER,
    TOPICS,
    apply_event,
    apply_events,
    counts_in_one_statement,
    item_count,
    subscribe,
)

__all__ = [
    "CONSUMER",
    "TOPICS",
    "apply_event",
    "apply_events",
    "counts_in_one_statement",
    "item_count",
    "subscribe",
]
