"""Reading what the load generators write: locust's CSV files and wrk's summary.

Pure standard library, so the unit tests cover it without the benchmark extras.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .stats import Latency

__all__ = [
    "HistoryPoint",
    "ParseError",
    "parse_duration",
    "parse_wrk_summary",
    "read_locust_history",
    "read_locust_stats",
]

AGGREGATED = "Aggregated"


class ParseError(ValueError):
    """A load generator's output is not what the runner expects."""


def _number(value: str | None) -> float:
    if value is None or value.strip() in {"", "N/A"}:
        return float("nan")
    return float(value)


def _latency(row: Mapping[str, str]) -> Latency:
    try:
        return Latency(
            requests=int(row["Request Count"]),
            failures=int(row["Failure Count"]),
            rps=_number(row["Requests/s"]),
            p50_ms=_number(row["50%"]),
            p95_ms=_number(row["95%"]),
            p99_ms=_number(row["99%"]),
            avg_ms=_number(row["Average Response Time"]),
            max_ms=_number(row["Max Response Time"]),
        )
    except KeyError as exc:
        raise ParseError(f"locust stats CSV has no column {exc}") from None


def read_locust_stats(path: Path) -> tuple[Latency, dict[str, Latency]]:
    """The aggregate and per-endpoint figures of a ``<prefix>_stats.csv`` file.

    Endpoints are keyed ``"METHOD name"`` as locust names them.

    Raises:
        ParseError: the file is missing or has no ``Aggregated`` row.
    """
    if not path.exists():
        raise ParseError(f"locust wrote no stats file at {path}")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    aggregate: Latency | None = None
    endpoints: dict[str, Latency] = {}
    for row in rows:
        if row.get("Name") == AGGREGATED:
            aggregate = _latency(row)
        else:
            endpoints[f"{row.get('Type', '')} {row.get('Name', '')}".strip()] = _latency(row)
    if aggregate is None:
        raise ParseError(f"{path} has no {AGGREGATED} row")
    return aggregate, endpoints


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """The latest line of locust's stats history: what the progress line shows."""

    users: int
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    failures: int


def read_locust_history(path: Path) -> HistoryPoint | None:
    """The last aggregate row of ``<prefix>_stats_history.csv``, if any yet."""
    if not path.exists():
        return None
    try:
        with path.open(newline="") as handle:
            rows = [r for r in csv.DictReader(handle) if r.get("Name") == AGGREGATED]
    except (OSError, csv.Error):
        return None
    if not rows:
        return None
    last = rows[-1]
    try:
        return HistoryPoint(
            users=int(last["User Count"]),
            rps=_number(last["Requests/s"]),
            p50_ms=_number(last["50%"]),
            p99_ms=_number(last["99%"]),
            requests=int(last["Total Request Count"]),
            failures=int(last["Total Failure Count"]),
        )
    except (KeyError, ValueError):
        return None  # a row being written while we read


_WRK_JSON = re.compile(r"^ACME_BENCH_WRK (\{.*\})\s*$", re.MULTILINE)


def parse_wrk_summary(output: str) -> Latency:
    """The figures our wrk script prints in its ``done()`` hook.

    The script prints one line ``ACME_BENCH_WRK {json}`` with requests,
    errors, non-2xx/3xx statuses, the duration in microseconds and latency
    percentiles in microseconds; this turns it into a :class:`Latency`.

    Raises:
        ParseError: the line is missing or incomplete.
    """
    found = _WRK_JSON.findall(output)
    if not found:
        raise ParseError("wrk printed no ACME_BENCH_WRK summary line (was the script loaded?)")
    try:
        data = json.loads(found[-1])
        requests = int(data["requests"])
        failures = int(data["errors"]) + int(data["non2xx"])
        seconds = float(data["duration_us"]) / 1e6
        return Latency(
            requests=requests,
            failures=failures,
            rps=requests / seconds if seconds > 0 else float("nan"),
            p50_ms=float(data["p50_us"]) / 1000,
            p95_ms=float(data["p95_us"]) / 1000,
            p99_ms=float(data["p99_us"]) / 1000,
            avg_ms=float(data["mean_us"]) / 1000,
            max_ms=float(data["max_us"]) / 1000,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ParseError(f"wrk summary line is incomplete: {exc}") from None


_DURATION = re.compile(r"^\s*(?:(\d+)h)?\s*(?:(\d+)m(?!s))?\s*(?:(\d+(?:\.\d+)?)s?)?\s*$")


def parse_duration(text: str) -> float:
    """Seconds in ``"90"``, ``"90s"``, ``"1m30s"`` or ``"1h"``.

    Raises:
        ValueError: the text is not such a duration, or is not positive.
    """
    match = _DURATION.match(text)
    if not match or not any(match.groups()):
        raise ValueError(f"not a duration: {text!r} (try 20s, 1m30s)")
    hours, minutes, seconds = match.groups()
    total = int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)
    if total <= 0:
        raise ValueError(f"duration must be positive: {text!r}")
    return total


def summarize_lines(lines: Iterable[str]) -> str:
    """The last non-empty lines of a log, for an error message."""
    kept = [line.rstrip() for line in lines if line.strip()]
    return "\n".join(kept[-15:])
