"""The message every bus adapter carries."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from acme.core.errors import Malformed
from acme.core.logging import request_id_var

__all__ = ["Message"]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Message:
    """An event: what happened (``type`` at a ``version``), when, and its JSON payload.

    ``type`` is dotted and doubles as the routing key (``item.created``).
    ``version`` changes when the payload's shape changes incompatibly, so
    consumers can handle old and new side by side. ``correlation_id`` ties the
    message to the request that caused it; by default it is the current
    request id. ``headers`` carry what the transport carries beside the
    document (the W3C trace context, ``traceparent`` and ``tracestate``):
    AMQP headers on RabbitMQ, this field on the in-process bus; they are not
    part of :meth:`to_json` and play no part in equality.
    """

    type: str
    payload: Mapping[str, Any]
    version: int = 1
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    occurred_at: datetime = field(default_factory=_now)
    correlation_id: str | None = field(default_factory=request_id_var.get)
    headers: Mapping[str, str] = field(default_factory=dict, compare=False)

    def to_json(self) -> bytes:
        """The wire form (UTF-8 JSON), the same on every transport."""
        return json.dumps(
            {
                "id": str(self.id),
                "type": self.type,
                "version": self.version,
                "occurred_at": self.occurred_at.isoformat(),
                "correlation_id": self.correlation_id,
                "payload": self.payload,
            },
            separators=(",", ":"),
            default=str,
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> Message:
        """Parse the wire form.

        Raises:
            Malformed: not a message document.
        """
        try:
            document = json.loads(raw)
            occurred_at = datetime.fromisoformat(document["occurred_at"])
            return cls(
                id=uuid.UUID(document["id"]),
                type=str(document["type"]),
                version=int(document["version"]),
                occurred_at=occurred_at,
                correlation_id=document.get("correlation_id"),
                payload=dict(document["payload"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise Malformed(
                f"not a message: {type(exc).__name__}", code="malformed_message"
            ) from exc
