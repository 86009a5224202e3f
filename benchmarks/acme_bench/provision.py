"""Getting a database ready for scenarios: a fresh PostgreSQL database per run, migrated
and given accounts and real tokens by the version under test's own CLI (``acme-api
migrate``, ``keys generate``, ``token issue``), seeded through ``COPY`` with the
secondary indexes rebuilt after (as ``pg_indexes`` defines them), and the files the
load generators read: the tokens, the dataset's description, the wrk request lists.
Items are spread evenly over the accounts; within one, ``order`` takes ``items //
100`` values, so filtering by order matches about a page (100 rows) at every size.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import random
import secrets
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from . import BenchError
from .floor_sql import ITEM_FIELDS

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
EPOCH = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
PAGE_SIZE = 100  # the API's largest page: the seed's filter returns about 100 rows


async def _execute(url: str, *statements: str) -> None:
    connection = await asyncpg.connect(url, timeout=10)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@dataclass(frozen=True, slots=True)
class BenchDatabase:
    """A database created for one run, on the server of ``admin_url``."""

    admin_url: str
    name: str

    @classmethod
    def create(cls, admin_url: str, *, label: str, template: str = "") -> BenchDatabase:
        """An empty, uniquely named database, or a copy of ``template`` (nobody connected)."""
        database = cls(admin_url, f"acme_bench_{label}_{secrets.token_hex(4)}")
        copy = f' TEMPLATE "{template}"' if template else ""
        try:
            asyncio.run(_execute(admin_url, f'CREATE DATABASE "{database.name}"{copy}'))
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            raise BenchError(f"PostgreSQL at {admin_url}: {exc}") from exc
        return database

    def url(self, scheme: str = "postgresql+asyncpg") -> str:
        """SQLAlchemy's URL of the database (``ACME_DATABASE_URL``), or libpq's (``postgresql``)."""
        return urlunsplit(urlsplit(self.admin_url)._replace(scheme=scheme, path=f"/{self.name}"))

    def drop(self) -> None:
        """Drop the database, closing any session still on it."""
        asyncio.run(_execute(self.admin_url, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))


@dataclass
class AccountData:
    """One benchmark account's share of the seeded rows: 256 sample ids, and the
    (created_at, id) of the row 99 % deep in its newest-first listing."""

    index: int
    id: uuid.UUID
    items: int
    sample_ids: list[str] = field(default_factory=list)
    deep_row: tuple[dt.datetime, uuid.UUID] | None = None

    @property
    def orders(self) -> int:
        return max(1, self.items // 100)

    def rows(self, rng: random.Random) -> Iterator[tuple[Any, ...]]:
        """The account's rows, oldest first, noting the sample ids and the deep row."""
        sample = set(rng.sample(range(self.items), min(256, self.items)))
        deep = max(0, self.items - 1 - int(self.items * 0.99))
        for position in range(self.items):
            item_id = uuid.UUID(int=rng.getrandbits(128), version=4)
            created = EPOCH + dt.timedelta(seconds=position)
            if position in sample:
                self.sample_ids.append(str(item_id))
            if position == deep and deep >= PAGE_SIZE:  # a full page follows it
                self.deep_row = (created, item_id)
            order, tags = rng.randrange(self.orders), [f"tag{position % 20}", "bench"]
            title, meta = f"item {self.index}-{position}", f'{{"seq": {position}}}'
            text = (title, "seeded for benchmarks", tags, order, meta)
            yield item_id, self.id, *text, created, created, 1


async def _seed(database: BenchDatabase, accounts: list[AccountData]) -> None:
    rng = random.Random(42)
    connection = await asyncpg.connect(database.url("postgresql"), timeout=10)
    try:
        indexes = await connection.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
            " AND tablename = 'items' AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        )
        async with connection.transaction():
            for index in indexes:
                await connection.execute(f'DROP INDEX "{index["indexname"]}"')
            for account in accounts:
                rows = account.rows(rng)
                await connection.copy_records_to_table("items", records=rows, columns=ITEM_FIELDS)
            await connection.execute("SET LOCAL maintenance_work_mem = '256MB'")
            for index in indexes:
                await connection.execute(index["indexdef"])
        await connection.execute("VACUUM ANALYZE items")
    finally:
        await connection.close()


@dataclass(frozen=True)
class DataFiles:
    """One database's token file (line *i* is account *i*'s), dataset description and
    wrk request lists by name (see ``wrk/replay.lua``)."""

    tokens: Path
    dataset: Path
    requests: Mapping[str, Path] = field(default_factory=dict)

    def locust_env(self) -> dict[str, str]:
        """The environment locust's scenarios read (see scenario_support)."""
        return {"ACME_BENCH_TOKENS": str(self.tokens), "ACME_BENCH_DATASET": str(self.dataset)}


# Each event a consumer handled, from its outbox row's writing (the request's commit, a
# moment later) to the consumer's claim in the ledger, written in the statement of its
# effect: the pipeline's latency, whichever bus carried it.
_EVENT_LATENCY = """
WITH sent AS (
    SELECT o.id, o.created_at, o.published_at FROM acme_outbox o
    WHERE o.created_at >= $1 AND o.created_at < $2
), handled AS (
    SELECT extract(epoch FROM p.processed_at - s.created_at) * 1000 AS ms
    FROM sent s JOIN acme_processed_messages p ON p.message_id = s.id
)
SELECT (SELECT count(*) FROM sent) AS written,
       (SELECT count(*) FROM handled) AS handled,
       (SELECT count(*) FROM sent WHERE published_at IS NULL) AS pending,
       (SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY ms) FROM handled) AS q,
       (SELECT max(ms) FROM handled) AS slowest
"""


async def _event_latency(url: str, since: dt.datetime, until: dt.datetime) -> dict[str, float]:
    connection = await asyncpg.connect(url, timeout=10)
    try:
        if await connection.fetchval("SELECT to_regclass('acme_outbox') IS NULL"):
            return {}
        row = await connection.fetchrow(_EVENT_LATENCY, since, until)
    finally:
        await connection.close()
    if not row["written"]:
        return {}
    p50, p99 = row["q"] or (float("nan"), float("nan"))
    return {
        "events": float(row["written"]),
        "events_handled": float(row["handled"]),
        "events_pending": float(row["pending"]),
        "event_p50_ms": float(p50),
        "event_p99_ms": float(p99),
        "event_max_ms": float(row["slowest"] if row["slowest"] is not None else "nan"),
    }


def event_latency(
    database: BenchDatabase, since: dt.datetime, until: dt.datetime
) -> dict[str, float]:
    """The events written in ``[since, until)`` on ``database``: how many, how many
    consumers' effects they had (an event no consumer subscribes to has none), how many
    the relay has still not published, and the p50, p99 and longest time from an event's
    writing to a consumer's effect, in ms (empty when the window wrote none).
    """
    return asyncio.run(_event_latency(database.url("postgresql"), since, until))


DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


def amqp_env(url: str) -> dict[str, str]:
    """Settings that send a server's events through RabbitMQ at ``url``, on a topic
    exchange of its own (``acme.bench.<random>``): its queues are the run's alone."""
    return {"ACME_AMQP_URL": url, "ACME_AMQP_EXCHANGE": f"acme.bench.{secrets.token_hex(4)}"}


async def _consumers(database: BenchDatabase) -> list[str]:
    connection = await asyncpg.connect(database.url("postgresql"), timeout=10)
    try:
        if await connection.fetchval("SELECT to_regclass('acme_processed_messages') IS NULL"):
            return []
        rows = await connection.fetch("SELECT DISTINCT consumer FROM acme_processed_messages")
    finally:
        await connection.close()
    return [row["consumer"] for row in rows]


def drop_amqp_topology(env: Mapping[str, str], database: BenchDatabase) -> None:
    """Delete what a server on ``env`` declared on the broker: its exchange, and the
    queues of the item-count consumer and of every consumer that handled an event in
    ``database`` (a failure is printed: the run's figures stand)."""
    from acme.accounts.item_counts import CONSUMER
    from acme.core.messaging.rabbitmq import RabbitMQBus
    from acme.core.testing import delete_rabbitmq_topology

    url, exchange = env["ACME_AMQP_URL"], env["ACME_AMQP_EXCHANGE"]
    try:
        bus = RabbitMQBus(url, exchange=exchange)
        # The API's consumer by name (its queues exist even if it handled nothing), and any
        # other that handled an event.
        for consumer in {CONSUMER, *asyncio.run(_consumers(database))}:
            bus.subscribe("#", _ignore, consumer=consumer)
        asyncio.run(delete_rabbitmq_topology(url, exchange, bus.queue_names()))
    except Exception as exc:
        print(f"could not delete the RabbitMQ exchange {exchange} and its queues: {exc}")


async def _ignore(_message: Any) -> None:
    return None


def server_env(database: BenchDatabase, *, keys: str) -> dict[str, str]:
    """The API's environment: production settings, the run's keys, the database. Sign-in
    has a throwaway client registration (production needs one; no benchmark signs in)."""
    return {
        "ACME_ENV": "production",
        "ACME_SECRETS": "env",
        "ACME_DATABASE_URL": database.url(),
        "ACME_JWT_KEYS": keys,
        "ACME_OIDC_CLIENT_ID": "acme-bench",
        "ACME_OIDC_CLIENT_SECRET": secrets.token_urlsafe(24),
        "ACME_LOG_LEVEL": "INFO",
        "PYTHONHASHSEED": "0",  # every server process hashes alike: one less per-process draw
    }


def acme_api(bin_dir: Path, *args: str, env: Mapping[str, str]) -> str:
    """What ``bin_dir``'s ``acme-api ARGS`` prints (BenchError with its output if it fails)."""
    command = [str(bin_dir / "acme-api"), *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        output = f"{done.stdout}\n{done.stderr}".strip()[-2000:]
        raise BenchError(f"acme-api {' '.join(args)} failed ({done.returncode}):\n{output}")
    return done.stdout.strip()


def new_keys(bin_dir: Path) -> str:
    """A fresh private JWKS for every server and token of a run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACME_")}
    return acme_api(bin_dir, "keys", "generate", env=env)


def issue_tokens(bin_dir: Path, env: Mapping[str, str], accounts: int, directory: Path) -> Path:
    """Create accounts ``bench-0``... with one token each (the CLI runs in development
    mode, which it needs, with the longest lifetime the API allows); the token file."""
    cli_env = {**os.environ, **env, "ACME_ENV": "development", "ACME_LOG_LEVEL": "WARNING"}
    cli_env |= {"ACME_MIGRATE_ON_START": "false", "ACME_ACCESS_TOKEN_TTL": "3600"}

    def issue(index: int) -> str:
        return acme_api(bin_dir, "token", "issue", "--account", f"bench-{index}", env=cli_env)

    with ThreadPoolExecutor(max_workers=4) as pool:
        tokens = list(pool.map(issue, range(accounts)))
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "tokens.txt").write_text("\n".join(tokens) + "\n", encoding="ascii")
    print(f"  {accounts} accounts, tokens issued")
    return directory / "tokens.txt"


def _deep_cursor(account: AccountData, keys: str) -> str | None:
    """The cursor after the row 99 % deep in the account's newest-first listing, made and
    sealed as the API makes its own: acme-core's encoding and signer, with the secret the
    API derives from the run's keys, bound to the listing as acme-items binds it."""
    from acme.core.persistence import CursorSigner, encode_cursor, parse_order
    from acme.core.security import KeySet
    from acme.items.interface import _listing  # what a cursor is bound to
    from acme.items.models import ItemFilter

    if account.deep_row is None:
        return None
    cursor = encode_cursor(parse_order("-created_at,-id"), list(account.deep_row))
    signer = CursorSigner(KeySet.from_jwks(keys).derived_secrets("items page cursors"))
    return signer.seal(cursor, _listing(ItemFilter(owner_id=account.id), "-created_at"))


def _request_lists(accounts: list[AccountData], keys: str) -> dict[str, list[str]]:
    """The wrk request lists: ``TOKEN_INDEX<tab>METHOD<tab>PATH[<tab>BODY]`` a line."""
    lists: dict[str, list[str]] = {"seed": [], "get": [], "first-page": [], "deep-page": []}
    lists["health"] = ["-\tGET\t/health/live"]
    for account in accounts:
        i = account.index
        for order in range(min(account.orders, 64)):
            body = json.dumps({"title": f"wrk {i}-{order}", "order": order})
            lists["seed"].append(f"{i}\tGET\t/items?order={order}&limit={PAGE_SIZE}")
            lists["seed"].append(f"{i}\tPOST\t/items\t{body}")
        lists["get"] += [f"{i}\tGET\t/items/{item_id}" for item_id in account.sample_ids]
        lists["first-page"].append(f"{i}\tGET\t/items?limit={PAGE_SIZE}")
        if cursor := _deep_cursor(account, keys):
            lists["deep-page"].append(f"{i}\tGET\t/items?limit={PAGE_SIZE}&cursor={cursor}")
    return lists


def _subject(token: str) -> uuid.UUID:
    """The account an access token names (its ``sub``), read without verifying it."""
    payload = token.split(".")[1]
    return uuid.UUID(
        json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]
    )


def seed(
    database: BenchDatabase, tokens: Path, keys: str, size: int, *, directory: Path
) -> DataFiles:
    """Seed ``size`` items over the token file's accounts; write the dataset's description
    and the wrk request lists."""
    owners = [_subject(token) for token in tokens.read_text(encoding="ascii").split()]
    share, extra = divmod(size, len(owners))
    accounts = [AccountData(i, owner, share + (i < extra)) for i, owner in enumerate(owners)]
    asyncio.run(_seed(database, accounts))
    print(f"  {size} items seeded ({database.name})")
    directory.mkdir(parents=True, exist_ok=True)
    requests = {}
    for name, lines in _request_lists(accounts, keys).items():
        requests[name] = directory / f"wrk-{name}.txt"
        requests[name].write_text("\n".join(lines) + "\n", encoding="utf-8")
    fields = ("index", "items", "orders", "sample_ids")
    described = [{"id": str(a.id), **{k: getattr(a, k) for k in fields}} for a in accounts]
    dataset = directory / "dataset.json"
    dataset.write_text(json.dumps({"size": size, "page_size": PAGE_SIZE, "accounts": described}))
    return DataFiles(tokens, dataset, requests)
