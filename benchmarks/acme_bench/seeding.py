"""Seeding the items table fast: asyncpg ``COPY`` with the secondary indexes rebuilt after.

Items are spread evenly over the benchmark accounts. Within an account,
``order`` takes ``items // 100`` distinct values, so a filter by order
matches about 100 rows (a full page) at every size, and ``created_at``
grows with each row, so keyset positions are known without asking the
database: the deep-page cursor is computed here and checked over HTTP.

A million rows seed in well under two minutes here: rows stream through
binary ``COPY``, and the indexes are dropped first and rebuilt once, from
PostgreSQL's own definitions of them (``pg_indexes``), so the schema after
seeding is exactly the one the migrations made.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

__all__ = ["AccountData", "SeedResult", "parse_size", "seed_items"]

COLUMNS = (
    "id",
    "owner_id",
    "title",
    "description",
    "tags",
    "order",
    "meta",
    "created_at",
    "updated_at",
    "version",
)
ROWS_PER_ORDER = 100
SAMPLE_IDS = 256
BATCH = 50_000
EPOCH = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def parse_size(text: str) -> int:
    """``10k`` -> 10000, ``1M`` -> 1000000, ``2500`` -> 2500.

    Raises:
        ValueError: not a positive size.
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", text)
    if not match:
        raise ValueError(f"not a size: {text!r} (try 10k, 100k, 1M)")
    number, unit = float(match.group(1)), match.group(2).lower()
    value = int(number * {"": 1, "k": 1_000, "m": 1_000_000}[unit])
    if value < 1:
        raise ValueError(f"size must be positive: {text!r}")
    return value


@dataclass
class AccountData:
    """One benchmark account's share of the seeded rows."""

    index: int
    id: uuid.UUID
    items: int
    orders: int
    sample_ids: list[str] = field(default_factory=list)
    # (created_at, id) of the row at 99 % depth of the newest-first listing
    deep_row: tuple[dt.datetime, uuid.UUID] | None = None


@dataclass
class SeedResult:
    """What was seeded and how long it took."""

    size: int
    accounts: list[AccountData]
    seconds: float


def _created_at(position: int) -> dt.datetime:
    return EPOCH + dt.timedelta(seconds=position)


def _rows(account: AccountData, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """The account's rows, oldest first; records sample ids and the deep row on the way."""
    sample = set(rng.sample(range(account.items), min(SAMPLE_IDS, account.items)))
    deep_position = account.items - 1 - int(account.items * 0.99)  # newest-first depth 99 %
    for position in range(account.items):
        item_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        created = _created_at(position)
        if position in sample:
            account.sample_ids.append(str(item_id))
        if position == max(0, deep_position):
            account.deep_row = (created, item_id)
        yield (
            item_id,
            account.id,
            f"item {account.index}-{position}",
            "seeded for benchmarks",
            [f"tag{position % 20}", "bench"],
            rng.randrange(account.orders),
            f'{{"seq": {position}}}',
            created,
            created,
            1,
        )


async def _copy(connection: asyncpg.Connection, rows: Iterator[tuple[Any, ...]]) -> None:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            await connection.copy_records_to_table("items", records=batch, columns=COLUMNS)
            batch = []
    if batch:
        await connection.copy_records_to_table("items", records=batch, columns=COLUMNS)


async def _seed(dsn: str, owners: Sequence[uuid.UUID], size: int, seed: int) -> SeedResult:
    started = time.monotonic()
    rng = random.Random(seed)
    per_account, extra = divmod(size, len(owners))
    accounts = []
    for index, owner in enumerate(owners):
        count = per_account + (1 if index < extra else 0)
        accounts.append(AccountData(index, owner, count, max(1, count // ROWS_PER_ORDER)))
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        indexes = await connection.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = 'items' AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        )
        async with connection.transaction():
            for index in indexes:
                await connection.execute(f'DROP INDEX "{index["indexname"]}"')
            for account in accounts:
                await _copy(connection, _rows(account, rng))
            await connection.execute("SET LOCAL maintenance_work_mem = '256MB'")
            for index in indexes:
                await connection.execute(index["indexdef"])
        await connection.execute("VACUUM ANALYZE items")
    finally:
        await connection.close()
    return SeedResult(size, accounts, time.monotonic() - started)


def seed_items(dsn: str, owners: Sequence[uuid.UUID], size: int, *, seed: int = 42) -> SeedResult:
    """Insert ``size`` items spread over ``owners``; return what a scenario needs to know."""
    if not owners:
        raise ValueError("seeding needs at least one owner")
    return asyncio.run(_seed(dsn, owners, size, seed))
