"""The items use cases, each on the fakes, SQLite and PostgreSQL (the ``deps`` fixture)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from acme.core.errors import Malformed, NotFound, PreconditionFailed
from acme.items import interface
from acme.items.dependencies import ItemsDependencies
from acme.items.serializers import ItemCreate, ItemPatch, ItemQuery, items_json

from .conftest import RecordingEvents

ALICE, BOB = uuid.uuid4(), uuid.uuid4()


def create(**fields: object) -> ItemCreate:
    return ItemCreate.model_validate({"title": "a thing", **fields})


async def test_create_get_update_delete(deps: ItemsDependencies, events: RecordingEvents) -> None:
    item = await interface.create_item(
        deps,
        owner_id=ALICE,
        data=create(tags=["red", "red", "blue"], order=3, meta={"k": [1, None]}),
    )
    assert item.tags == ["red", "blue"]
    got = await interface.get_item(deps, owner_id=ALICE, item_id=item.id)
    assert got == item
    assert got.created_at.tzinfo is not None
    updated = await interface.update_item(
        deps,
        owner_id=ALICE,
        item_id=item.id,
        expected_versions={1},
        patch=ItemPatch.model_validate({"title": "renamed", "order": 3}),
    )
    assert (updated.title, updated.version) == ("renamed", 2)
    assert updated.updated_at >= updated.created_at
    assert await interface.get_item(deps, owner_id=ALICE, item_id=item.id) == updated
    await interface.delete_item(deps, owner_id=ALICE, item_id=item.id)
    with pytest.raises(NotFound):
        await interface.get_item(deps, owner_id=ALICE, item_id=item.id)
    assert events.types() == ["item.created", "item.updated", "item.deleted"]
    assert events.committed[1].payload["changed"] == ["title"]
    assert events.committed[0].payload["owner_id"] == str(ALICE)


async def test_a_stale_version_is_refused(deps: ItemsDependencies, events: RecordingEvents) -> None:
    item = await interface.create_item(deps, owner_id=ALICE, data=create())
    patch = ItemPatch.model_validate({"title": "second"})
    await interface.update_item(
        deps, owner_id=ALICE, item_id=item.id, expected_versions={1}, patch=patch
    )
    with pytest.raises(PreconditionFailed):
        await interface.update_item(
            deps, owner_id=ALICE, item_id=item.id, expected_versions={1}, patch=patch
        )
    with pytest.raises(PreconditionFailed):
        await interface.delete_item(deps, owner_id=ALICE, item_id=item.id, expected_versions={1})
    assert events.types() == ["item.created", "item.updated"]


async def test_concurrent_updates_at_one_version_let_one_win(deps: ItemsDependencies) -> None:
    item = await interface.create_item(deps, owner_id=ALICE, data=create())

    async def rename(title: str) -> object:
        try:
            return await interface.update_item(
                deps,
                owner_id=ALICE,
                item_id=item.id,
                expected_versions={1},
                patch=ItemPatch.model_validate({"title": title}),
            )
        except PreconditionFailed as exc:
            return exc

    results = await asyncio.gather(*(rename(f"t{n}") for n in range(4)))
    winners = [r for r in results if not isinstance(r, PreconditionFailed)]
    assert len(winners) == 1  # the others lost the race: PreconditionFailed, nothing else
    final = await interface.get_item(deps, owner_id=ALICE, item_id=item.id)
    assert final.version == 2


async def test_an_empty_patch_changes_nothing(
    deps: ItemsDependencies, events: RecordingEvents
) -> None:
    item = await interface.create_item(deps, owner_id=ALICE, data=create(title="same"))
    same = await interface.update_item(
        deps,
        owner_id=ALICE,
        item_id=item.id,
        expected_versions=None,
        patch=ItemPatch.model_validate({"title": "same"}),
    )
    assert same.version == 1
    assert events.types() == ["item.created"]


async def test_owners_cannot_touch_each_others_items(
    deps: ItemsDependencies, events: RecordingEvents
) -> None:
    mine = await interface.create_item(deps, owner_id=ALICE, data=create())
    with pytest.raises(NotFound):
        await interface.get_item(deps, owner_id=BOB, item_id=mine.id)
    with pytest.raises(NotFound):
        await interface.update_item(
            deps,
            owner_id=BOB,
            item_id=mine.id,
            expected_versions=None,
            patch=ItemPatch.model_validate({"title": "mine now"}),
        )
    with pytest.raises(NotFound):
        await interface.delete_item(deps, owner_id=BOB, item_id=mine.id)
    page = await interface.list_items(deps, owner_id=BOB, query=ItemQuery())
    assert page.items == []
    assert (await interface.get_item(deps, owner_id=ALICE, item_id=mine.id)) == mine
    assert events.types() == ["item.created"]


@pytest.mark.parametrize("rendered", [False, True], ids=["items", "rendered"])
async def test_listing_filters_and_pages_without_gaps_or_repeats(
    deps: ItemsDependencies, rendered: bool
) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    made = []
    for n in range(23):
        clock_value = start + timedelta(seconds=n // 2)  # ties on created_at
        fixed = dataclasses.replace(deps, clock=lambda v=clock_value: v)
        made.append(
            await interface.create_item(
                fixed,
                owner_id=ALICE,
                data=create(
                    title=f"{'Alpha' if n % 3 == 0 else 'beta'} {n}",
                    order=n % 4,
                    tags=["even"] if n % 2 == 0 else ["odd", "x"],
                ),
            )
        )
    await interface.create_item(deps, owner_id=BOB, data=create(order=1, tags=["even"]))

    async def everything(**query: object) -> list[uuid.UUID]:
        seen: list[uuid.UUID] = []
        cursor = None
        while True:
            asked = ItemQuery.model_validate({**query, "cursor": cursor, "limit": 5})
            if rendered:
                shown = await interface.list_items_rendered(deps, owner_id=ALICE, query=asked)
                seen.extend(uuid.UUID(i["id"]) for i in json.loads(shown.items_json))
                next_cursor = shown.next_cursor
            else:
                page = await interface.list_items(deps, owner_id=ALICE, query=asked)
                seen.extend(i.id for i in page.items)
                next_cursor = page.next_cursor
            if next_cursor is None:
                return seen
            cursor = next_cursor

    newest_first = sorted(made, key=lambda i: (i.created_at, i.id), reverse=True)
    assert await everything() == [i.id for i in newest_first]
    oldest_first = sorted(made, key=lambda i: (i.created_at, i.id))
    assert await everything(sort="created_at") == [i.id for i in oldest_first]
    by_order = sorted(made, key=lambda i: (i.order, i.created_at, i.id))
    assert await everything(sort="order") == [i.id for i in by_order]
    assert await everything(sort="-order") == [i.id for i in reversed(by_order)]
    assert await everything(order=1) == [i.id for i in newest_first if i.order == 1]
    assert await everything(tag="even") == [i.id for i in newest_first if "even" in i.tags]
    assert await everything(title_prefix="Alpha") == [
        i.id for i in newest_first if i.title.startswith("Alpha")
    ]
    assert await everything(title_prefix="alpha") == []  # case-sensitive on both databases
    assert await everything(tag="odd", order=3) == [
        i.id for i in newest_first if "odd" in i.tags and i.order == 3
    ]


async def test_a_rendered_page_is_the_json_of_the_same_page(deps: ItemsDependencies) -> None:
    start = datetime(2026, 1, 1, 12, 0, 0, 250_000, tzinfo=UTC)
    metas: list[dict[str, object]] = [
        {},
        {"nested": {"list": [1, 2.5, None, True, "x"]}, "é": "ü €"},
        {"big": 12345678901234567890, "small": -0.001},
    ]
    for n, meta in enumerate(metas * 2):
        fixed = dataclasses.replace(deps, clock=lambda n=n: start + timedelta(seconds=n // 2))
        await interface.create_item(
            fixed,
            owner_id=ALICE,
            data=create(
                title=f"thing {n} ✓", description="two\nlines", tags=["t", f"n{n}"], meta=meta
            ),
        )
    cursor = None
    pages = 0
    while True:
        query = ItemQuery(limit=4, cursor=cursor)
        page = await interface.list_items(deps, owner_id=ALICE, query=query)
        shown = await interface.list_items_rendered(deps, owner_id=ALICE, query=query)
        assert json.loads(shown.items_json) == json.loads(items_json(page.items))
        assert (shown.next_cursor is None) == (page.next_cursor is None)
        if shown.next_cursor is not None:
            # Both cursors lead to the same next page.
            after_rendered = ItemQuery(limit=4, cursor=shown.next_cursor)
            after_page = ItemQuery(limit=4, cursor=page.next_cursor)
            one = await interface.list_items(deps, owner_id=ALICE, query=after_rendered)
            two = await interface.list_items(deps, owner_id=ALICE, query=after_page)
            assert one.items == two.items
        pages += 1
        if shown.next_cursor is None:
            break
        cursor = shown.next_cursor
    assert pages == 2


async def test_a_cursor_of_another_sort_is_malformed(deps: ItemsDependencies) -> None:
    for _ in range(3):
        await interface.create_item(deps, owner_id=ALICE, data=create())
    page = await interface.list_items(deps, owner_id=ALICE, query=ItemQuery(limit=1))
    assert page.next_cursor
    with pytest.raises(Malformed):
        await interface.list_items(
            deps, owner_id=ALICE, query=ItemQuery(sort="order", cursor=page.next_cursor)
        )
    with pytest.raises(Malformed):
        await interface.list_items(deps, owner_id=ALICE, query=ItemQuery(cursor="garbage!"))
