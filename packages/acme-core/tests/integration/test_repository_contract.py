"""One contract for the generic repository, run on SQLite and on PostgreSQL."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, Uuid
from sqlalchemy.engine import Row

from acme.core.errors import Conflict, Invalid, Malformed, NotFound
from acme.core.persistence import SqlRepository, UtcDateTime
from acme.core.persistence.database import Database


@dataclass(frozen=True)
class Widget:
    id: uuid.UUID
    owner: str
    rank: int
    created_at: datetime
    label: str | None = None


metadata = MetaData()
# A per-module table name: the PostgreSQL database is shared by the whole run.
widgets = Table(
    f"widgets_{uuid.uuid4().hex[:8]}",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("owner", String(50), nullable=False),
    Column("rank", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("label", String(50)),
)


def to_widget(row: Row[Any]) -> Widget:
    return Widget(row.id, row.owner, row.rank, row.created_at, row.label)


def to_values(widget: Widget) -> Mapping[str, Any]:
    return asdict(widget)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    async with db.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
        await connection.execute(widgets.delete())
    try:
        yield db
    finally:
        async with db.engine.begin() as connection:
            await connection.run_sync(metadata.drop_all)
        await db.dispose()


def repo(uow: Any) -> SqlRepository[Widget]:
    return SqlRepository(
        uow.connection,
        table=widgets,
        to_entity=to_widget,
        to_values=to_values,
        entity_name="widget",
    )


BASE = datetime(2026, 1, 1, tzinfo=UTC)


def make(owner: str = "ann", rank: int = 0, minutes: int = 0, label: str | None = None) -> Widget:
    return Widget(uuid.uuid4(), owner, rank, BASE + timedelta(minutes=minutes), label)


async def test_add_get_find_update_delete(database: Database) -> None:
    widget = make(label="first")
    async with database.unit_of_work() as uow:
        await repo(uow).add(widget)
        await uow.commit()
    async with database.unit_of_work() as uow:
        widgets_repo = repo(uow)
        assert await widgets_repo.get(widget.id) == widget
        assert await widgets_repo.find(uuid.uuid4()) is None
        await widgets_repo.update(replace(widget, label="renamed", rank=7))
        await uow.commit()
    async with database.unit_of_work() as uow:
        stored = await repo(uow).get(widget.id)
        assert (stored.label, stored.rank) == ("renamed", 7)
        await repo(uow).delete(widget.id)
        await uow.commit()
    async with database.unit_of_work() as uow:
        with pytest.raises(NotFound, match=r"widget .* not found"):
            await repo(uow).get(widget.id)
        with pytest.raises(NotFound):
            await repo(uow).delete(widget.id)
        with pytest.raises(NotFound):
            await repo(uow).update(widget)


async def test_duplicate_key_is_a_conflict(database: Database) -> None:
    widget = make()
    async with database.unit_of_work() as uow:
        await repo(uow).add(widget)
        with pytest.raises(Conflict):
            await repo(uow).add(widget)


async def test_nothing_is_kept_without_commit(database: Database) -> None:
    widget = make()
    async with database.unit_of_work() as uow:
        await repo(uow).add(widget)
    async with database.unit_of_work() as uow:
        assert await repo(uow).find(widget.id) is None


async def test_an_exception_rolls_back(database: Database) -> None:
    widget = make()

    async def failing_use_case() -> None:
        async with database.unit_of_work() as uow:
            await repo(uow).add(widget)
            raise RuntimeError("use case failed")

    with pytest.raises(RuntimeError):
        await failing_use_case()
    async with database.unit_of_work() as uow:
        assert await repo(uow).count() == 0


async def test_after_commit_callbacks_run_only_after_a_commit(database: Database) -> None:
    calls: list[str] = []

    async def record() -> None:
        calls.append("ran")

    async with database.unit_of_work() as uow:
        uow.after_commit(record)
        await uow.rollback()
        await uow.commit()
    assert calls == []
    async with database.unit_of_work() as uow:
        uow.after_commit(record)
        await repo(uow).add(make())
        assert calls == []
        await uow.commit()
    assert calls == ["ran"]


async def test_filter_and_count_by_fields(database: Database) -> None:
    items = [make("ann", 1), make("ann", 2, label="x"), make("bob", 1)]
    async with database.unit_of_work() as uow:
        for item in items:
            await repo(uow).add(item)
        await uow.commit()
    async with database.unit_of_work() as uow:
        widgets_repo = repo(uow)
        assert await widgets_repo.count() == 3
        assert await widgets_repo.count(owner="ann") == 2
        assert {w.id for w in await widgets_repo.filter(owner="ann", rank=1)} == {items[0].id}
        assert {w.id for w in await widgets_repo.filter(label=None)} == {items[0].id, items[2].id}
        assert len(await widgets_repo.filter(limit=1)) == 1
        with pytest.raises(Invalid, match="no field 'colour'"):
            await widgets_repo.filter(colour="red")


async def walk(
    widgets_repo: SqlRepository[Widget], order: list[str], limit: int, **fields: Any
) -> list[Widget]:
    seen: list[Widget] = []
    cursor = None
    while True:
        page = await widgets_repo.page(order=order, after=cursor, limit=limit, **fields)
        seen.extend(page.items)
        assert len(page.items) <= limit
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


@pytest.mark.parametrize(
    ("order", "key"),
    [
        (["id"], lambda w: (w.id.hex,)),
        (["rank"], lambda w: (w.rank, w.id.hex)),
        (["-rank"], lambda w: (-w.rank, w.id.hex)),
        (["-created_at", "rank"], lambda w: (-w.created_at.timestamp(), w.rank, w.id.hex)),
        (["rank", "-created_at"], lambda w: (w.rank, -w.created_at.timestamp(), w.id.hex)),
    ],
)
async def test_keyset_pages_visit_every_row_once_in_order(
    database: Database, order: list[str], key: Any
) -> None:
    # Many ties on rank and created_at: only the appended id keeps pages stable.
    items = [make("ann", rank=i % 3, minutes=i % 4) for i in range(23)] + [make("bob", 1)]
    async with database.unit_of_work() as uow:
        for item in items:
            await repo(uow).add(item)
        await uow.commit()
    async with database.unit_of_work() as uow:
        seen = await walk(repo(uow), order, limit=5, owner="ann")
    assert len(seen) == 23
    assert len({w.id for w in seen}) == 23
    if order[-1].lstrip("-") == "id" or order == ["id"]:
        expected_ids = sorted((w for w in items if w.owner == "ann"), key=lambda w: w.id)
        assert [w.id for w in seen] == [w.id for w in expected_ids]
    else:
        ann = [w for w in items if w.owner == "ann"]
        primary = [key(w)[:-1] for w in seen]
        assert primary == sorted(primary)
        assert {w.id for w in seen} == {w.id for w in ann}


async def test_last_page_has_no_cursor_and_empty_listing_is_fine(database: Database) -> None:
    async with database.unit_of_work() as uow:
        empty = await repo(uow).page(limit=10)
        assert (empty.items, empty.next_cursor) == ([], None)
        for _ in range(3):
            await repo(uow).add(make())
        page = await repo(uow).page(limit=3)
        assert len(page.items) == 3
        assert page.next_cursor is None


async def test_page_rejects_bad_input(database: Database) -> None:
    async with database.unit_of_work() as uow:
        with pytest.raises(Invalid, match="cannot order widget by 'colour'"):
            await repo(uow).page(order=["colour"])
        with pytest.raises(Invalid, match="limit must be at least 1"):
            await repo(uow).page(limit=0)
        with pytest.raises(Malformed):
            await repo(uow).page(after="garbage")


def _forged(order: list[str], values: list[Any]) -> str:
    """A cursor document written by hand, as an attacker would (unsealed, any values)."""
    raw = json.dumps({"o": order, "v": values}).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# Each of these reached the driver once and came back as a 500 (DataError, OverflowError).
FORGED_POSITIONS = [
    (["-created_at", "-id"], ["x", "y"]),
    (["-created_at", "-id"], [1, {"u": str(uuid.uuid4())}]),
    (["-created_at", "-id"], [1e999, {"u": str(uuid.uuid4())}]),
    (["-created_at", "-id"], [True, {"u": str(uuid.uuid4())}]),
    (["-created_at", "-id"], [{"dt": "2026-01-01T00:00:00"}, {"u": str(uuid.uuid4())}]),
    (["rank", "id"], [2147483648, {"u": str(uuid.uuid4())}]),
    (["rank", "id"], [False, {"u": str(uuid.uuid4())}]),
    (["rank", "id"], [1.5, {"u": str(uuid.uuid4())}]),
    (["owner", "id"], ["a\u0000b", {"u": str(uuid.uuid4())}]),
    (["owner", "id"], ["\ud800", {"u": str(uuid.uuid4())}]),
    (["owner", "id"], ["ann", "not-a-uuid"]),
]


@pytest.mark.parametrize(("order", "values"), FORGED_POSITIONS)
async def test_a_forged_position_never_reaches_the_driver(
    database: Database, order: list[str], values: list[Any]
) -> None:
    async with database.unit_of_work() as uow:
        await repo(uow).add(make())
        with pytest.raises(Malformed) as caught:
            await repo(uow).page(order=order[:1], after=_forged(order, values))
        assert caught.value.code == "invalid_cursor"
        # the transaction is still usable: nothing failed inside the database
        assert await repo(uow).count() == 1
