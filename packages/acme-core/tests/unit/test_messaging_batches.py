"""The in-process bus's batches: one call per batch consumer, one by one when a batch fails."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from acme.core.messaging import BatchBus, Message, Unroutable
from acme.core.messaging.memory import InProcessBus


async def test_a_batch_consumer_gets_its_messages_in_one_call() -> None:
    bus = InProcessBus()
    batches: list[list[str]] = []
    singles: list[str] = []

    async def batch(messages: Sequence[Message]) -> None:
        batches.append([str(m.payload["n"]) for m in messages])

    async def single(message: Message) -> None:
        singles.append(str(message.payload["n"]))

    bus.subscribe_batch("item.*", batch, consumer="counts")
    bus.subscribe("item.created", single, consumer="mail")
    assert isinstance(bus, BatchBus)
    messages = [
        Message("item.created", {"n": 1}),
        Message("item.deleted", {"n": 2}),
        Message("nobody.listens", {"n": 3}),
        Message("item.created", {"n": 4}),
    ]
    outcomes = await bus.publish_batch(messages)
    await bus.drain()
    assert [type(o) for o in outcomes] == [type(None), type(None), Unroutable, type(None)]
    assert batches == [["1", "2", "4"]]
    assert sorted(singles) == ["1", "4"]


async def test_a_single_publish_reaches_a_batch_consumer_as_a_batch_of_one() -> None:
    bus = InProcessBus()
    batches: list[int] = []

    async def batch(messages: Sequence[Message]) -> None:
        batches.append(len(messages))

    bus.subscribe_batch("item.*", batch, consumer="counts")
    await bus.publish(Message("item.created", {}))
    await bus.drain()
    assert batches == [1]


async def test_a_failing_batch_is_handled_one_by_one_so_a_bad_message_costs_only_itself() -> None:
    bus = InProcessBus(max_attempts=2)
    handled: list[int] = []

    async def batch(messages: Sequence[Message]) -> None:
        if any(m.payload.get("bad") for m in messages):
            raise ValueError("a message this consumer cannot take")
        handled.extend(int(m.payload["n"]) for m in messages)

    bus.subscribe_batch("item.*", batch, consumer="counts")
    bad = Message("item.created", {"n": 2, "bad": True})
    await bus.publish_batch([Message("item.created", {"n": n}) for n in (1, 3)] + [bad])
    await bus.drain()
    assert sorted(handled) == [1, 3]
    assert bus.dead_letters == [("counts", bad)]


async def test_a_batch_is_published_once_its_handlers_are_done() -> None:
    bus = InProcessBus()
    gate = asyncio.Event()
    done: list[str] = []

    async def batch(messages: Sequence[Message]) -> None:
        await gate.wait()
        done.append("batch")

    async def single(message: Message) -> None:
        await gate.wait()
        done.append("single")

    bus.subscribe_batch("item.*", batch, consumer="counts")
    bus.subscribe("item.*", single, consumer="mail")
    publishing = asyncio.create_task(bus.publish_batch([Message("item.created", {})]))
    await asyncio.sleep(0.05)
    assert not publishing.done()  # the relay would not mark the row sent yet
    gate.set()
    assert await publishing == [None]
    assert sorted(done) == ["batch", "single"]
