from __future__ import annotations

import uuid

import pytest

from acme.core.errors import Malformed
from acme.core.logging import bind_request_id
from acme.core.messaging import Message, topic_matches
from acme.core.messaging.memory import InProcessBus


@pytest.mark.parametrize(
    ("topic", "message_type", "expected"),
    [
        ("item.created", "item.created", True),
        ("item.*", "item.created", True),
        ("item.*", "item.a.b", False),
        ("*.created", "account.created", True),
        ("#", "anything.at.all", True),
        ("item.#", "item", True),
        ("item.#", "item.a.b", True),
        ("item.#", "items.a", False),
        ("a.#.b", "a.b", True),
        ("a.#.b", "a.x.y.b", True),
        ("#.b", "b", True),
        ("a.*", "a", False),
    ],
)
def test_topics_follow_amqp_semantics(topic: str, message_type: str, expected: bool) -> None:
    assert topic_matches(topic, message_type) is expected


def test_messages_round_trip_and_take_the_request_id() -> None:
    with bind_request_id("req-9"):
        message = Message("item.created", {"id": "x", "n": 1}, version=2)
    assert message.correlation_id == "req-9"
    again = Message.from_json(message.to_json())
    assert again == message


@pytest.mark.parametrize("raw", [b"", b"{}", b"[]", b'{"id": "nope"}'])
def test_garbage_is_malformed(raw: bytes) -> None:
    with pytest.raises(Malformed):
        Message.from_json(raw)


async def test_in_process_bus_delivers_to_matching_handlers() -> None:
    bus = InProcessBus()
    seen: list[tuple[str, uuid.UUID]] = []

    async def on_item(message: Message) -> None:
        seen.append(("items", message.id))

    async def on_everything(message: Message) -> None:
        seen.append(("all", message.id))

    bus.subscribe("item.*", on_item, consumer="a")
    bus.subscribe("#", on_everything, consumer="b")
    await bus.start()
    created, other = Message("item.created", {}), Message("account.created", {})
    await bus.publish(created)
    await bus.publish(other)
    await bus.drain()
    assert sorted(seen) == sorted([("items", created.id), ("all", created.id), ("all", other.id)])
    await bus.close()


async def test_in_process_bus_retries_a_failing_handler() -> None:
    bus = InProcessBus(max_attempts=3)
    attempts = 0

    async def flaky(message: Message) -> None:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise RuntimeError("transient")

    bus.subscribe("#", flaky, consumer="flaky")
    await bus.publish(Message("x.y", {}))
    await bus.drain()
    assert attempts == 3


async def test_in_process_bus_refuses_unroutable_messages() -> None:
    from acme.core.messaging import Unroutable

    bus = InProcessBus()
    bus.subscribe("item.*", _ignore, consumer="a")
    with pytest.raises(Unroutable):
        await bus.publish(Message("account.created", {}))


async def test_in_process_bus_keeps_what_kept_failing() -> None:
    bus = InProcessBus(max_attempts=2)
    attempts: list[Message] = []

    async def failing(message: Message) -> None:
        attempts.append(message)
        raise RuntimeError("no")

    bus.subscribe("#", failing, consumer="c")
    message = Message("item.created", {})
    await bus.publish(message)
    await bus.drain()
    assert attempts == [message, message]
    assert bus.dead_letters == [("c", message)]


async def _ignore(message: Message) -> None:
    return None


async def test_in_process_bus_bounds_concurrent_handlers() -> None:
    import asyncio

    bus = InProcessBus(concurrency=2)
    running, peak = 0, 0

    async def slow(message: Message) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    bus.subscribe("#", slow, consumer="c")
    for _ in range(10):
        await bus.publish(Message("item.created", {}))
    await bus.drain()
    assert peak == 2


async def test_publishing_waits_while_too_many_deliveries_are_unfinished() -> None:
    import asyncio

    bus = InProcessBus(max_pending=3)
    release = asyncio.Event()
    handled: list[str] = []

    async def held(message: Message) -> None:
        await release.wait()
        handled.append(message.type)

    bus.subscribe("#", held, consumer="c")
    for _ in range(3):
        await bus.publish(Message("item.created", {}))
    assert bus.pending == 3
    fourth = asyncio.create_task(bus.publish(Message("item.deleted", {})))
    await asyncio.sleep(0.05)
    assert not fourth.done()  # no room: the publisher waits, nothing is dropped
    release.set()
    await asyncio.wait_for(fourth, timeout=5)
    await bus.drain()
    assert handled == ["item.created"] * 3 + ["item.deleted"]
    assert bus.pending == 0


async def test_a_handler_that_publishes_never_waits_for_room() -> None:
    import asyncio

    bus = InProcessBus(max_pending=1)
    seen: list[str] = []

    async def forward(message: Message) -> None:
        seen.append(message.type)
        if message.type == "item.created":
            await bus.publish(Message("item.counted", {}))

    bus.subscribe("item.*", forward, consumer="c")
    await bus.publish(Message("item.created", {}))
    await asyncio.wait_for(bus.drain(), timeout=5)
    assert seen == ["item.created", "item.counted"]
