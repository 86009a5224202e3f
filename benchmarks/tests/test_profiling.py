"""Summarising py-spy's collapsed stacks."""

from __future__ import annotations

import pytest

from acme_bench.profiling import area_of, parse_collapsed, render_profile

SITE = "/venv/lib/python3.11/site-packages"
TOKENS = "/repo/packages/acme-core/src/acme/core/security/tokens.py"


def test_self_inclusive_and_area_shares() -> None:
    lines = [
        f"run (uvicorn/main.py);app ({SITE}/fastapi/routing.py);"
        f"encode ({SITE}/pydantic/main.py) 30",
        f"run (uvicorn/main.py);app ({SITE}/fastapi/routing.py);"
        f"fetch ({SITE}/asyncpg/connection.py:120) 50",
        f"run (uvicorn/main.py);verify ({TOKENS}) 20",
        "garbage line without a count",
        "_bootstrap (threading.py);Queue.get (queue.py:171);Condition.wait (threading.py:327) 7",
    ]
    profile = parse_collapsed(lines)
    assert profile.samples == 100
    assert profile.idle_samples == 7
    assert profile.self_counts["fetch (asyncpg/connection.py)"] == 50
    assert profile.total_counts["app (fastapi/routing.py)"] == 80
    assert profile.total_counts["run (uvicorn/main.py)"] == 100
    assert profile.area_counts == {"asyncpg": 50, "pydantic": 30, "acme.core.security (tokens)": 20}

    markdown = render_profile("SeedWorkload", profile, notes=["1 worker"], top=2)
    assert "|  50.0 % | asyncpg |" in markdown
    assert "|  80.0 % | `app (fastapi/routing.py)` |" in markdown
    assert "1 worker" in markdown


def test_recursion_counts_a_function_once_per_sample() -> None:
    profile = parse_collapsed([f"a ({SITE}/x.py);a ({SITE}/x.py);b ({SITE}/y.py) 4"])
    assert profile.total_counts["a (x.py)"] == 4


@pytest.mark.parametrize(
    ("path", "area"),
    [
        (f"{SITE}/sqlalchemy/engine/base.py", "sqlalchemy"),
        ("sqlalchemy/engine/base.py", "sqlalchemy"),
        ("core/security/tokens.py", "acme.core.security (tokens)"),
        ("threading.py", "threads (thread pool hand-off)"),
        ("/repo/packages/acme-items/src/acme/items/repository.py", "acme.items"),
        ("/usr/lib/python3.11/logging/__init__.py", "logging (stdlib)"),
        ("/somewhere/else.py", "other"),
    ],
)
def test_areas(path: str, area: str) -> None:
    assert area_of(path) == area
