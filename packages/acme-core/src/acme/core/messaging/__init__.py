"""Messaging: the message type, the bus port and its in-process adapter.

Other adapters live in their own modules and are built only by the API's
composition root.
"""

from __future__ import annotations

from ._message import Message
from ._port import Handler, MessageBus
from .memory import InProcessBus, topic_matches
from .outbox import Outbox

__all__ = ["Handler", "InProcessBus", "Message", "MessageBus", "Outbox", "topic_matches"]
