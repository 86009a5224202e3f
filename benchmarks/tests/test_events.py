"""The runner's event figures: the latency query on real PostgreSQL, and the targets."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import uuid

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from acme.core.messaging.tables import metadata
from acme_bench.plans import evaluate
from acme_bench.provision import BenchDatabase, event_latency
from acme_bench.report import Section
from acme_bench.stats import RunResult, medians_by_target

T0 = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)


async def _core_tables(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    await engine.dispose()


async def _write(url: str, rows: list[tuple[float, float | None, float | None]]) -> None:
    """Outbox rows written ``s`` seconds after T0, published and handled (by one consumer)
    at the given seconds (``None``: not yet)."""
    connection = await asyncpg.connect(url)
    try:
        for written, published, handled in rows:
            message_id = uuid.uuid4()
            at = T0 + dt.timedelta(seconds=written)

            def later(seconds: float | None) -> dt.datetime | None:
                return None if seconds is None else T0 + dt.timedelta(seconds=seconds)

            await connection.execute(
                "INSERT INTO acme_outbox (id, type, version, occurred_at, payload, created_at,"
                " published_at, attempts) VALUES ($1, 'item.created', 1, $2, '{}', $2, $3, 0)",
                message_id,
                at,
                later(published),
            )
            if handled is not None:
                await connection.execute(
                    "INSERT INTO acme_processed_messages VALUES ('counts', $1, $2)",
                    message_id,
                    later(handled),
                )
    finally:
        await connection.close()


def test_the_latency_is_from_the_row_to_the_consumers_claim(fresh_postgres_url: str) -> None:
    # Synchronous, as the runner is: event_latency runs its own event loop.
    asyncio.run(_core_tables(fresh_postgres_url))
    asyncio.run(
        _write(
            make_url(fresh_postgres_url).set(drivername="postgresql").render_as_string(False),
            [
                (1.0, 1.02, 1.05),  # 50 ms
                (2.0, 2.1, 2.15),  # 150 ms
                (3.0, None, None),  # never published
                (4.0, 4.01, None),  # published; no consumer took it (no subscriber)
                (20.0, 20.0, 20.001),  # after the window
            ],
        )
    )
    url = make_url(fresh_postgres_url)
    admin = url.set(database="postgres").render_as_string(hide_password=False)
    database = BenchDatabase(admin, str(url.database))

    found = event_latency(database, T0, T0 + dt.timedelta(seconds=10))

    assert found["events"] == 4
    assert found["events_handled"] == 2
    assert found["events_pending"] == 1
    assert math.isclose(found["event_p50_ms"], 100.0, abs_tol=0.01)  # between 50 and 150
    assert math.isclose(found["event_max_ms"], 150.0, abs_tol=0.01)
    assert event_latency(database, T0 + dt.timedelta(hours=1), T0 + dt.timedelta(hours=2)) == {}


def _seed_round(target: str, round_: int, **events: float) -> RunResult:
    metrics = {"rps": 1000.0, "p99_ms": 20.0, "failures": 0.0, **events}
    return RunResult(target, round_, metrics)


def _latency_check(results: list[RunResult]) -> tuple[bool, str]:
    section = Section("seed-wrk", "seed (wrk)", "", results, "floor")
    (check,) = [c for c in evaluate([section]) if c.name.startswith("event latency")]
    return check.passed, check.shown


def test_the_latency_target_is_the_median_p99_of_the_apis_rounds() -> None:
    rounds = [_seed_round("floor", n) for n in (1, 2, 3)]  # the floor has no event figures
    rounds += [
        _seed_round("api", n, event_p99_ms=p99, events_pending=0.0)
        for n, p99 in ((1, 80.0), (2, 130.0), (3, 90.0))
    ]
    assert _latency_check(rounds) == (True, "90 ms")
    slow = [*rounds[:3], *(_seed_round("api", n, event_p99_ms=120.0) for n in (1, 2, 3))]
    assert _latency_check(slow)[0] is False


def test_an_event_never_published_fails_the_target_whatever_the_latency() -> None:
    rounds = [_seed_round("floor", 1), _seed_round("api", 1, event_p99_ms=10.0, events_pending=3)]
    assert _latency_check(rounds) == (False, "10 ms (3 events never published)")


def test_a_figure_missing_from_some_rounds_is_the_median_of_the_others() -> None:
    rounds = [
        _seed_round("api", 1),
        _seed_round("api", 2, event_p99_ms=70.0),
        _seed_round("api", 3, event_p99_ms=90.0),
    ]
    assert medians_by_target(rounds)["api"]["event_p99_ms"] == 80.0
