"""What ``report`` measures: its experiments, and the performance targets judged on them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from . import BenchError
from .drivers import Load
from .engine import PIPELINE_APART, AppTarget, Experiment
from .provision import BenchDatabase, DataFiles
from .report import Check, Section
from .stats import median, paired_ratios

if TYPE_CHECKING:
    from .commands import Run


Seeded = tuple[BenchDatabase, DataFiles]
PLANS = {  # name: (title, description)
    "seed": (
        "Seed workload: full stack against the floor (locust)",
        "The seed's workload through the full stack, authenticated: `GET /items?order=K&limit=100`"
        " (about 100 rows) and `POST /items`, 50/50, against the floor (the same SQL through a "
        "bare ASGI app on raw asyncpg) at the same concurrency, worker count and page size.",
    ),
    "seed-wrk": (
        "Seed workload: full stack against the floor (wrk)",
        "The same requests replayed by wrk, which costs the machine about a twentieth of "
        "locust's CPU per request, so the servers get the cores: the saturation view.",
    ),
    "seed-amqp": (
        "Seed workload with events through RabbitMQ (wrk)",
        "The seed-wrk experiment with the API's events going through RabbitMQ (an exchange of"
        " the run's own) instead of the in-process bus; the API's worker consumes them, as in"
        " production by default. Read for the events' latency from commit to effect.",
    ),
    "seed-amqp-apart": (
        "Seed workload through RabbitMQ, relay and consumers apart (wrk)",
        "seed-amqp with the relay and the consumers in processes of their own (`acme-api relay`,"
        " `acme-api consume`; `ACME_RELAY_IN_API=false`, `ACME_CONSUMERS_IN_API=false`), their"
        " CPU counted as the server's.",
    ),
    "mix": (
        "Realistic mix (locust)",
        "Browse with the cursor, get, create, update (If-Match), delete (If-Match). Peak RSS per "
        "worker is read here.",
    ),
    "auth": (
        "Authentication's share of a GET (wrk)",
        "`GET /items/{id}` with a real token (verified, cached per process; the account loaded) "
        "against the same app whose container trusts the token's subject (benchmark-only "
        "variant). The ratio of server CPU per request prices authentication.",
    ),
    "pages": (
        "List pages as data grows (wrk, 1 connection)",
        "Latency of one list page at one connection: the first page of an account's items in "
        "the small dataset against a page 99 % deep in the large one, reached by its cursor.",
    ),
}


def floor_target(
    database: BenchDatabase, files: DataFiles, name: str = "floor", workers: int | None = None
) -> AppTarget:
    """The floor app (bare ASGI on raw asyncpg), served by the same gunicorn on ``database``."""
    return AppTarget(name, database, files, app_uri="acme_bench.floor:app", workers=workers)


def report_experiments(
    run: Run,
    small: Seeded,
    floor: BenchDatabase,
    large: Seeded | None,
    brokered: tuple[BenchDatabase, BenchDatabase],
) -> list[Experiment]:
    """The experiments of ``report`` that ``--only`` asks for, in the order they run;
    ``brokered``, two copies of ``small``, are the API's on RabbitMQ (in one process, apart).

    Raises:
        BenchError: ``--only`` names an unknown experiment.
    """
    args, files = run.args, small[1]
    chosen = [n.strip() for n in (args.only or ",".join(PLANS)).split(",") if n.strip()]
    if unknown := sorted(set(chosen) - set(PLANS)):
        raise BenchError(f"unknown experiment(s) {', '.join(unknown)}: one of {', '.join(PLANS)}")
    api = AppTarget("api", *small, nginx=args.nginx)
    both = [floor_target(floor, files), api]
    noauth = AppTarget("api-noauth", *small, app_uri="acme_bench.noauth:create_app()")

    def amqp_api(name: str, database: BenchDatabase, apart: tuple[str, ...] = ()) -> AppTarget:
        settings = run.amqp(database) if name in chosen else {}
        target = AppTarget(f"api-{name.removeprefix('seed-')}", database, files, env=settings)
        return replace(target, nginx=args.nginx, apart=apart)

    def experiment(name: str, targets: list[AppTarget], load: Load, **changes: Any) -> Experiment:
        title, description = PLANS[name]
        return run.experiment(name, title, targets, load, description=description, **changes)

    locust, wrk = run.load("SeedWorkload"), run.load("seed", duration_s=args.wrk_duration)
    mix, get = replace(locust, scenario="RealisticMix"), replace(wrk, scenario="get")
    built = {
        "seed": experiment("seed", both, locust),
        "seed-wrk": experiment("seed-wrk", both, wrk, driver="wrk"),
        "seed-amqp": experiment(
            "seed-amqp", [both[0], amqp_api("seed-amqp", brokered[0])], wrk, driver="wrk"
        ),
        "seed-amqp-apart": experiment(
            "seed-amqp-apart",
            [both[0], amqp_api("seed-amqp-apart", brokered[1], PIPELINE_APART)],
            wrk,
            driver="wrk",
        ),
        "mix": experiment("mix", both, mix, rounds=args.mix_rounds),
        "auth": experiment("auth", [noauth, api], get, driver="wrk"),
    }
    if large is not None:  # each target's "page" list: its first page, or the deep one
        pages = [("first-page", *small), ("deep-page", *large)]
        targets = [
            AppTarget(n, db, replace(f, requests={"page": f.requests[n]})) for n, db, f in pages
        ]
        page = replace(wrk, scenario="page", users=1)
        built["pages"] = experiment("pages", targets, page, driver="wrk")
    return [built[name] for name in chosen if name in built]


def _ratio(section: Section, metric: str, numerator: str, denominator: str) -> float:
    return median(paired_ratios(section.results, metric, numerator, denominator))


def evaluate(sections: Sequence[Section]) -> list[Check]:
    """The performance targets, judged on the sections that measure them."""
    found = {s.name: s for s in sections}
    checks: list[Check] = []
    for name, driver in (("seed", "locust"), ("seed-wrk", "wrk")):
        if name in found:
            rps, p99 = (_ratio(found[name], metric, "api", "floor") for metric in ("rps", "p99_ms"))
            throughput = f"seed workload throughput, % of floor ({driver})"
            checks.append(Check(throughput, ">= 60 %", rps, f"{rps:.1%}", rps >= 0.60))
            latency = f"seed workload p99, x floor ({driver})"
            checks.append(Check(latency, "< 3x", p99, f"{p99:.2f}x", p99 < 3.0))
    for name, bus in (
        ("seed-wrk", "in-process bus"),
        ("seed-amqp", "RabbitMQ"),
        ("seed-amqp-apart", "RabbitMQ, relay and consumers apart"),
    ):
        if name in found:  # the API's rounds; the floor runs no consumer
            p99 = median(r.metrics.get("event_p99_ms", math.nan) for r in found[name].results)
            lost = sum(r.metrics.get("events_pending", 0.0) for r in found[name].results)
            shown = f"{p99:.0f} ms" + (f" ({lost:.0f} events never published)" if lost else "")
            goal = f"event latency p99, commit to effect, seed workload (wrk, {bus})"
            checks.append(Check(goal, "< 100 ms", p99, shown, p99 < 100 and not lost))
    if "pages" in found:
        deep = _ratio(found["pages"], "p50_ms", "deep-page", "first-page")
        # A cursor the API refuses is answered fast: pages that failed prove nothing.
        failed = sum(r.metrics["failures"] for r in found["pages"].results)
        shown = f"{deep:.2f}x" + (f" ({failed:.0f} requests failed)" if failed else "")
        name = "deep cursor page p50 at the large size, x first page at the small"
        checks.append(Check(name, "<= 1.5x", deep, shown, deep <= 1.5 and not failed))
    if "auth" in found:
        cost = _ratio(found["auth"], "app_cpu_ms_per_req", "api", "api-noauth") - 1
        name = "authentication's added server CPU per GET"
        checks.append(Check(name, "< 5 %", cost, f"{cost:+.1%}", cost < 0.05))
    if "mix" in found:
        peaks = [r.metrics["peak_worker_rss_mb"] for r in found["mix"].results if r.target == "api"]
        peak, name = max(peaks, default=math.nan), "peak RSS per worker during the mix"
        checks.append(Check(name, "< 150 MB", peak, f"{peak:.0f} MB", peak < 150))
    return checks
