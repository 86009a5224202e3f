"""The outbox hop's tracing when off: the default, which must cost nothing.

The spans themselves are checked where an SDK is installed, by the API's
tests (services/api/tests/test_tracing.py); acme-core ships the API only.
"""

from __future__ import annotations

import subprocess
import sys

from acme.core.messaging import Message, tracing
from acme.core.messaging.outbox import outbox_row


def test_headers_ride_beside_the_document_and_play_no_part_in_equality() -> None:
    message = Message("item.created", {"n": 1})
    traced = Message(
        message.type,
        message.payload,
        id=message.id,
        occurred_at=message.occurred_at,
        correlation_id=message.correlation_id,
        headers={"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"},
    )
    assert traced == message
    assert traced.to_json() == message.to_json()
    assert Message.from_json(traced.to_json()).headers == {}


def test_off_the_outbox_row_stores_no_trace_context() -> None:
    assert not tracing.enabled()
    assert outbox_row(Message("item.created", {"n": 1}))["trace_context"] is None


def test_off_the_hooks_hand_back_the_messages_as_they_are() -> None:
    messages = [Message("item.created", {"n": n}) for n in range(2)]
    with tracing.publishing(messages, system=tracing.IN_PROCESS) as batch:
        batch.outcomes = [None, None]
    assert batch.messages == messages
    assert all(sent is original for sent, original in zip(batch.messages, messages, strict=True))
    with tracing.processing(messages[0], consumer="c", system=tracing.IN_PROCESS):
        pass
    with tracing.processing_batch(messages, consumer="c", system=tracing.IN_PROCESS):
        pass
    tracing.failed(RuntimeError("ignored while off"))


def test_off_opentelemetry_is_never_imported() -> None:
    probe = (
        "import sys\n"
        "from acme.core.messaging import Message, tracing\n"
        "from acme.core.messaging.outbox import outbox_row\n"
        "m = Message('item.created', {})\n"
        "outbox_row(m)\n"
        "with tracing.publishing([m], system='x'): pass\n"
        "with tracing.processing(m, consumer='c', system='x'): pass\n"
        "print(sorted(n for n in sys.modules if n.startswith('opentelemetry')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
