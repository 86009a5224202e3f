"""What ``report`` measures: its experiments, and the performance targets judged on them."""

from __future__ import annotations

import argparse
import json
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .database import BenchDatabase
from .dataset import DataFiles
from .drivers import Load
from .engine import Experiment
from .provision import PAGE_SIZE
from .report import Check, Section
from .stack import AppTarget, Stack
from .stats import median, paired_ratios

__all__ = [
    "DESCRIPTIONS",
    "DataFiles",
    "ExperimentBuilder",
    "ReportData",
    "evaluate",
    "floor_target",
    "report_experiments",
]

ExperimentBuilder = Callable[[BenchDatabase, DataFiles, BenchDatabase], Experiment]
"""Builds an experiment from the API's database, its files and the floor's database."""

EXPERIMENTS = ("seed", "seed-wrk", "mix", "auth", "pages")
DESCRIPTIONS = {
    "seed": "The seed's workload through the full stack, authenticated: `GET /items?order=K"
    "&limit=100` (about 100 rows) and `POST /items`, 50/50, driven by locust, against the "
    "floor (the same SQL through a bare ASGI app on raw asyncpg) at the same concurrency, "
    "worker count and page size.",
    "seed-wrk": "The same requests replayed by wrk, which costs the machine about a twentieth "
    "of locust's CPU per request, so the servers get the cores: the saturation view.",
    "mix": "A realistic mix: browse with the cursor, get, create, update (If-Match), "
    "delete (If-Match), driven by locust. Peak RSS per worker is read here.",
    "auth": "`GET /items/{id}` with a real token (verified, cached per process; the account "
    "loaded) against the same app with the account taken from a header instead "
    "(benchmark-only variant). The ratio of server CPU per request prices authentication.",
    "pages": "Latency of one list page at one connection (wrk): the first page of an "
    "account's items in the small dataset against a page 99 % deep in the large one, "
    "reached by its cursor.",
    "health": "`GET /health/live`: the fixed cost of the stack for a request that does nothing.",
}


@dataclass(frozen=True)
class ReportData:
    """The databases of a report run and the files their scenarios read."""

    small: BenchDatabase
    small_files: DataFiles
    large: BenchDatabase | None = None
    large_files: DataFiles | None = None
    floor: BenchDatabase | None = None
    """A copy of ``small`` for the floor alone (its writes must not wake the API's relay)."""


def floor_target(
    bin_dir: Path, database: BenchDatabase, *, name: str = "floor", workers: int | None = None
) -> AppTarget:
    """The floor app (bare ASGI on raw asyncpg) served by the same gunicorn, on ``database``."""
    return AppTarget(
        name,
        bin_dir,
        app_uri="acme_bench.floor:app",
        env={"ACME_DATABASE_URL": database.sqlalchemy_url},
        database=database.name,
        workers=workers,
    )


class TargetCheckError(RuntimeError):
    """A target answered a check request wrongly before the experiment began."""


def _check_pages(data: dict[str, DataFiles]) -> Callable[[AppTarget, Stack], None]:
    """Each account's page request answers 200 with a full page (the deep cursor works)."""

    def check(target: AppTarget, stack: Stack) -> None:
        files = data[target.name]
        tokens = files.tokens.read_text(encoding="ascii").split()
        for line in files.requests["page"].read_text(encoding="utf-8").splitlines():
            index, _, path = line.split("\t")[:3]
            request = urllib.request.Request(
                stack.url + path, headers={"Authorization": f"Bearer {tokens[int(index)]}"}
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    page = json.load(response)
            except (OSError, ValueError) as exc:
                raise TargetCheckError(f"{target.name}: GET {path[:80]}...: {exc}") from exc
            if len(page.get("items", ())) != PAGE_SIZE:
                raise TargetCheckError(
                    f"{target.name}: GET {path[:80]}... gave {len(page.get('items', ()))} items,"
                    f" not a full page of {PAGE_SIZE}"
                )

    return check


def _selected(args: argparse.Namespace) -> list[str]:
    if not args.only:
        return list(EXPERIMENTS)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - {*EXPERIMENTS, "health"})
    if unknown:
        raise ValueError(f"unknown experiment(s): {', '.join(unknown)}")
    return chosen


def report_experiments(
    args: argparse.Namespace, *, bin_dir: Path, data: ReportData
) -> list[Experiment]:
    """The experiments of ``report``, in the order they run."""
    small = data.small
    base = Load(
        scenario="SeedWorkload",
        users=args.users,
        spawn_rate=args.spawn_rate,
        duration_s=args.duration,
        processes=args.processes,
    )
    common = {"rounds": args.rounds, "warmup_s": args.warmup, "workers": args.workers}
    wrk = replace(base, duration_s=args.wrk_duration)
    api = AppTarget("api", bin_dir, database=small.name, nginx=args.nginx)
    floor = floor_target(bin_dir, data.floor or small)
    files = dict.fromkeys(("api", "floor", "api-noauth"), data.small_files)
    built: dict[str, Experiment] = {
        "health": Experiment(
            name="health",
            title="Stack overhead: liveness",
            targets=[api],
            load=replace(base, scenario="Health"),
            data=files,
            **common,
        ),
        "seed": Experiment(
            name="seed",
            title="Seed workload: full stack against the floor (locust)",
            targets=[floor, api],
            load=base,
            data=files,
            **common,
        ),
        "seed-wrk": Experiment(
            name="seed-wrk",
            title="Seed workload: full stack against the floor (wrk)",
            targets=[floor, api],
            load=replace(wrk, scenario="seed"),
            driver="wrk",
            data=files,
            **common,
        ),
        "mix": Experiment(
            name="mix",
            title="Realistic mix (locust)",
            targets=[floor, api],
            load=replace(base, scenario="RealisticMix"),
            data=files,
            **{**common, "rounds": args.mix_rounds},
        ),
        "auth": Experiment(
            name="auth",
            title="Authentication's share of a GET (wrk)",
            targets=[
                AppTarget(
                    "api-noauth",
                    bin_dir,
                    app_uri="acme_bench.noauth:create_app()",
                    database=small.name,
                ),
                api,
            ],
            load=replace(wrk, scenario="get"),
            driver="wrk",
            data=files,
            **common,
        ),
    }
    if data.large is not None and data.large_files is not None:
        first = AppTarget("first-page", bin_dir, database=small.name)
        deep = AppTarget(
            "deep-page",
            bin_dir,
            database=data.large.name,
            env={"ACME_DATABASE_URL": data.large.sqlalchemy_url},
        )
        page_files = {
            "first-page": replace(
                data.small_files, requests={"page": data.small_files.requests["first-page"]}
            ),
            "deep-page": replace(
                data.large_files, requests={"page": data.large_files.requests["deep-page"]}
            ),
        }
        built["pages"] = Experiment(
            name="pages",
            title="List pages as data grows (wrk, 1 connection)",
            targets=[first, deep],
            load=replace(wrk, scenario="page", users=1),
            driver="wrk",
            data=page_files,
            check=_check_pages(page_files),
            **common,
        )
    return [built[name] for name in _selected(args) if name in built]


def _ratio(section: Section, metric: str, numerator: str, denominator: str) -> float:
    return median(
        paired_ratios(section.results, metric=metric, numerator=numerator, denominator=denominator)
    )


def evaluate(sections: Sequence[Section]) -> list[Check]:
    """The issue's performance targets, judged on the sections that measure them."""
    by_name = {s.name: s for s in sections}
    checks: list[Check] = []
    for name, driver in (("seed", "locust"), ("seed-wrk", "wrk")):
        if name in by_name:
            rps = _ratio(by_name[name], "rps", "api", "floor")
            p99 = _ratio(by_name[name], "p99_ms", "api", "floor")
            checks.append(
                Check(
                    f"seed workload throughput, % of floor ({driver})",
                    ">= 60 %",
                    rps,
                    f"{rps:.1%}",
                    rps >= 0.60,
                )
            )
            checks.append(
                Check(
                    f"seed workload p99, x floor ({driver})", "< 3x", p99, f"{p99:.2f}x", p99 < 3.0
                )
            )
    if "pages" in by_name:
        deep = _ratio(by_name["pages"], "p50_ms", "deep-page", "first-page")
        checks.append(
            Check(
                "deep cursor page p50 at the large size, x first page at the small",
                "<= 1.5x",
                deep,
                f"{deep:.2f}x",
                deep <= 1.5,
            )
        )
    if "auth" in by_name:
        cost = _ratio(by_name["auth"], "app_cpu_ms_per_req", "api", "api-noauth") - 1
        checks.append(
            Check(
                "authentication's added server CPU per GET",
                "< 5 %",
                cost,
                f"{cost:+.1%}",
                cost < 0.05,
            )
        )
    if "mix" in by_name:
        peak = max(
            (
                r.metrics()["peak_worker_rss_mb"]
                for r in by_name["mix"].results
                if r.target == "api"
            ),
            default=float("nan"),
        )
        checks.append(
            Check(
                "peak RSS per worker during the mix", "< 150 MB", peak, f"{peak:.0f} MB", peak < 150
            )
        )
    return checks
