"""Reading py-spy's collapsed stacks: where a worker's CPU went, by function and by library.

Pure standard library, so the unit tests cover it without py-spy.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Profile", "area_of", "parse_collapsed", "render_profile"]

# A frame as py-spy writes it: "function (path/to/module.py:123)"
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<path>[^()]*?)(?::(?P<line>\d+))?\)$")

AREAS: tuple[tuple[str, str], ...] = (
    # (path prefix, area): py-spy shortens paths to the import root (``asyncpg/...``,
    # and ``core/...`` for the acme namespace); the first match wins.
    ("core/security/", "acme.core.security (tokens)"),
    ("core/persistence/", "acme.core.persistence"),
    ("core/messaging/", "acme.core.messaging (outbox, bus)"),
    ("core/logging", "acme.core.logging"),
    ("core/", "acme.core (other)"),
    ("accounts/", "acme.accounts"),
    ("items/", "acme.items"),
    ("acme_api/", "acme_api"),
    ("acme_bench/", "acme_bench (floor)"),
    ("sqlalchemy/", "sqlalchemy"),
    ("asyncpg/", "asyncpg"),
    ("fastapi/", "fastapi"),
    ("starlette/", "starlette"),
    ("pydantic", "pydantic"),
    ("uvicorn", "uvicorn"),
    ("httptools/", "uvicorn"),
    ("uvloop/", "uvloop"),
    ("anyio/", "anyio (thread pool)"),
    ("threading.py", "threads (thread pool hand-off)"),
    ("queue.py", "threads (thread pool hand-off)"),
    ("logging/", "logging (stdlib)"),
    ("json/", "json (stdlib)"),
    ("asyncio/", "asyncio (stdlib)"),
    ("jwt/", "jwt / crypto"),
    ("cryptography/", "jwt / crypto"),
    ("orjson", "orjson"),
    ("uuid.py", "uuid (stdlib)"),
    ("gunicorn/", "gunicorn"),
)


def area_of(path: str) -> str:
    """The library or layer a source file belongs to."""
    for fragment, area in AREAS:
        if path.startswith(fragment) or f"/{fragment}" in path:
            return area
    return "other"


# Leaves where a thread sleeps, not works (py-spy's --gil still reports thread-pool
# threads parked on their queue now and then): left out of the shares.
IDLE_LEAVES = frozenset(
    {"Condition.wait (threading.py)", "Event.wait (threading.py)", "Thread.join (threading.py)"}
)


@dataclass(frozen=True)
class Profile:
    """Sample counts: each function's own (self) and inclusive (total), and each area's own."""

    samples: int
    self_counts: Counter[str]
    total_counts: Counter[str]
    area_counts: Counter[str]
    idle_samples: int = 0


def _short(path: str) -> str:
    """``.../site-packages/fastapi/routing.py`` -> ``fastapi/routing.py``."""
    for marker in ("site-packages/", "/src/", "/lib/python3."):
        if marker in path:
            tail = path.rsplit(marker, 1)[1]
            return tail.split("/", 1)[1] if marker == "/lib/python3." and "/" in tail else tail
    return path


def _frames(stack: str) -> list[tuple[str, str]]:
    frames = []
    for raw in stack.split(";"):
        match = _FRAME.match(raw.strip())
        if match:
            path = match.group("path")
            frames.append((f"{match.group('function')} ({_short(path)})", path))
        elif raw.strip():
            frames.append((raw.strip(), ""))
    return frames


def parse_collapsed(lines: Iterable[str]) -> Profile:
    """Aggregate py-spy ``--format raw`` output: ``frame;frame;... COUNT`` per line."""
    self_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()
    area_counts: Counter[str] = Counter()
    samples = idle = 0
    for line in lines:
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = _frames(stack)
        if not frames:
            continue
        leaf_name, leaf_path = frames[-1]
        if leaf_name in IDLE_LEAVES:
            idle += count
            continue
        samples += count
        self_counts[leaf_name] += count
        area_counts[area_of(leaf_path)] += count
        for name in {name for name, _ in frames}:
            total_counts[name] += count
    return Profile(samples, self_counts, total_counts, area_counts, idle)


def _rows(counts: Counter[str], samples: int, limit: int) -> list[str]:
    return [f"| {100 * n / samples:5.1f} % | `{name}` |" for name, n in counts.most_common(limit)]


def render_profile(
    title: str, profile: Profile, *, notes: Sequence[str] = (), top: int = 20
) -> str:
    """A markdown summary: CPU by library, then the hottest functions (self and inclusive)."""
    if not profile.samples:
        return f"## {title}\n\nno samples\n"
    lines = [
        f"## {title}",
        "",
        f"{profile.samples} samples of the busy worker ({profile.idle_samples} of parked "
        "threads left out).",
        "",
    ]
    lines += [*notes, ""] if notes else []
    lines += ["### Own CPU by library", "", "| share | library |", "|---|---|"]
    lines += [
        f"| {100 * n / profile.samples:5.1f} % | {area} |"
        for area, n in profile.area_counts.most_common()
    ]
    lines += ["", "### Hottest functions (own time)", "", "| share | function |", "|---|---|"]
    lines += _rows(profile.self_counts, profile.samples, top)
    lines += ["", "### Hottest functions (inclusive)", "", "| share | function |", "|---|---|"]
    lines += _rows(profile.total_counts, profile.samples, top)
    return "\n".join(lines) + "\n"
