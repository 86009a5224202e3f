"""Summing py-spy's collapsed stacks by library and by function."""

from __future__ import annotations

import pytest

from acme_bench.profile import area_of, summarize

# py-spy names each file from its import root; the acme namespace's packages lose "acme/".
LINES = [
    "run (uvicorn/main.py:10);app (fastapi/routing.py:20);encode (pydantic/main.py:30) 30",
    "run (uvicorn/main.py:10);app (fastapi/routing.py:20);fetch (asyncpg/connection.py:120) 50",
    "run (uvicorn/main.py:10);verify (core/security/tokens.py:40) 20",
    "garbage line without a count",
    "_bootstrap (threading.py:1);Queue.get (queue.py:171);Condition.wait (threading.py:327) 7",
]


def test_own_and_inclusive_shares_and_libraries() -> None:
    markdown = summarize("SeedWorkload", LINES, notes=["1 worker"], top=2)
    assert "100 samples (7 of parked threads left out)." in markdown
    assert "|  50.0 % | asyncpg |" in markdown
    assert "|  20.0 % | acme.core.security |" in markdown
    own = markdown.split("### Hottest functions (own time)")[1].split("###")[0]
    assert "|  50.0 % | fetch (asyncpg/connection.py) |" in own
    assert "|  30.0 % | encode (pydantic/main.py) |" in own
    inclusive = markdown.split("### Hottest functions (inclusive)")[1]
    assert "| 100.0 % | run (uvicorn/main.py) |" in inclusive
    assert "|  80.0 % | app (fastapi/routing.py) |" in inclusive
    assert "1 worker" in markdown


def test_recursion_counts_a_function_once_per_stack() -> None:
    markdown = summarize("t", ["a (x.py:1);a (x.py:2);b (y.py:3) 4"])
    assert "| 100.0 % | a (x.py) |" in markdown.split("(inclusive)")[1]


def test_no_samples_says_so() -> None:
    assert "no samples" in summarize("t", ["junk"])


@pytest.mark.parametrize(
    ("path", "area"),
    [
        ("sqlalchemy/engine/base.py", "sqlalchemy"),
        ("core/security/tokens.py", "acme.core.security"),
        ("core/errors.py", "acme.core"),
        ("items/repository.py", "acme.items"),
        ("acme_api/routes/items.py", "acme_api"),
        ("threading.py", "threading"),
        ("asyncio/runners.py", "asyncio"),
    ],
)
def test_areas(path: str, area: str) -> None:
    assert area_of(path) == area
