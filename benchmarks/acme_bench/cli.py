"""``python -m acme_bench``: the benchmark runner's commands (see benchmarks/README.md)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from .parsing import parse_duration

__all__ = ["main"]

# Over two rounds the bootstrap interval is just the two values and their mean
# the median; three is the fewest where the median and the spread differ.
MIN_JUDGED_ROUNDS = 3


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _variable(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise argparse.ArgumentTypeError(f"not NAME=VALUE: {text!r}")
    return name.strip(), value


def _percent(text: str) -> float:
    """``5%`` or ``5`` as the fraction 0.05."""
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percentage: {text!r}") from None
    if not 0.0 < value < 100.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 100 %: {text!r}")
    return value / 100.0


def _workers_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of worker counts: {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"worker counts must be at least 1: {text!r}")
    return values


def add_load_options(parser: argparse.ArgumentParser, *, duration: str = "20s") -> None:
    """The options every command that drives load shares."""
    load = parser.add_argument_group("load")
    load.add_argument(
        "--users",
        type=_positive_int,
        default=32,
        help="concurrent users / connections (default: 32)",
    )
    load.add_argument(
        "--spawn-rate",
        type=float,
        default=None,
        help="users started per second (default: all at once)",
    )
    load.add_argument(
        "--duration",
        type=_duration,
        default=parse_duration(duration),
        help=f"measured time per run, e.g. 20s, 1m (default: {duration})",
    )
    load.add_argument(
        "--warmup",
        type=_duration,
        default=parse_duration("5s"),
        help="unmeasured load before each run (default: 5s)",
    )
    load.add_argument(
        "--rounds",
        type=_positive_int,
        default=3,
        help="interleaved rounds per comparison (default: 3)",
    )
    load.add_argument(
        "--processes",
        type=_positive_int,
        default=1,
        help="locust processes (locust --processes; default: 1)",
    )
    load.add_argument(
        "--accounts",
        type=_positive_int,
        default=4,
        help="benchmark accounts the items are spread over, one token each (default: 4)",
    )
    stack = parser.add_argument_group("stack")
    stack.add_argument(
        "--workers", type=_positive_int, default=1, help="gunicorn workers (default: 1)"
    )
    stack.add_argument("--nginx", action="store_true", help="put nginx in front of gunicorn")
    stack.add_argument(
        "--admin-url",
        default=None,
        help="PostgreSQL URL to create the benchmark database from "
        "(default: ACME_BENCH_ADMIN_URL or postgres@127.0.0.1:5432)",
    )
    stack.add_argument(
        "--keep-db", action="store_true", help="keep the benchmark database(s) afterwards"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output directory (default: benchmarks/results/<kind>-<time>)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m acme_bench",
        description="Benchmark the acme API: production-like stack, real tokens, reports.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    report = commands.add_parser(
        "report",
        help="measure the current tree against every target; write the report",
        description="Seed a fresh database, run every experiment (the seed workload against "
        "the floor, the mix, token verification, deep pages) and write "
        "summary.json, report.md and chart.png.",
    )
    add_load_options(report, duration="15s")
    report.add_argument(
        "--wrk-duration",
        type=_duration,
        default=parse_duration("10s"),
        help="measured time of each wrk run (default: 10s)",
    )
    report.add_argument(
        "--mix-rounds",
        type=_positive_int,
        default=1,
        help="rounds of the realistic mix, which is read for memory (default: 1)",
    )
    report.add_argument(
        "--size", default="10k", help="items to seed, e.g. 10k, 100k, 1M (default: 10k)"
    )
    report.add_argument(
        "--deep-size",
        default="1M",
        help="items for the deep-page check (default: 1M; 'skip' to skip)",
    )
    report.add_argument(
        "--only", default=None, help="comma-separated experiments to run (default: all)"
    )
    report.set_defaults(handler="commands:cmd_report")

    compare = commands.add_parser(
        "compare",
        help="A/B two versions of the wheels, interleaved; table and chart",
        description="Install each version into its own venv (git:REF, wheels:DIR, "
        "index:REQ@URL or tree), run the same scenario A/B interleaved, "
        "write medians, B/A ratios and a chart.",
    )
    compare.add_argument("a", help="version A (the reference)")
    compare.add_argument("b", help="version B")
    compare.add_argument(
        "--scenario", default="SeedWorkload", help="locust user class (default: SeedWorkload)"
    )
    compare.add_argument("--size", default="10k", help="items to seed per version (default: 10k)")
    compare.add_argument(
        "--driver",
        choices=("locust", "wrk"),
        default="locust",
        help="load generator; with wrk, --scenario names a request list: seed, get, health "
        "(default: locust)",
    )
    compare.add_argument("--rebuild", action="store_true", help="rebuild cached git venvs")
    compare.add_argument(
        "--pgbouncer",
        action="store_true",
        help="B connects through PgBouncer (transaction mode, deploy/pgbouncer/), A directly",
    )
    compare.add_argument(
        "--env-b",
        type=_variable,
        action="append",
        metavar="NAME=VALUE",
        help="an environment variable for B's server only (repeat; e.g. OTEL_TRACES_EXPORTER=otlp "
        "prices tracing with `compare tree tree`)",
    )
    compare.add_argument(
        "--fail-above",
        type=_percent,
        default=None,
        metavar="PCT",
        help="exit 1 when B regressed by more than PCT (e.g. 5%%) on requests/s (B/A lower is "
        "worse: regression when the whole 95 %% interval of B/A is below 1 - PCT) or on "
        "server CPU per request (higher is worse: the whole interval above 1 + PCT); "
        "exit 0 otherwise, 2 on bad arguments; needs --rounds of at least "
        f"{MIN_JUDGED_ROUNDS}",
    )
    add_load_options(compare)
    compare.set_defaults(handler="compare:cmd_compare")

    sweep = commands.add_parser(
        "sweep",
        help="the same scenario at several gunicorn worker counts",
    )
    sweep.add_argument(
        "--worker-counts",
        type=_workers_list,
        default=[1, 2, 4],
        help="comma-separated worker counts (default: 1,2,4)",
    )
    sweep.add_argument(
        "--scenario", default="SeedWorkload", help="locust user class (default: SeedWorkload)"
    )
    sweep.add_argument("--size", default="10k", help="items to seed (default: 10k)")
    sweep.add_argument("--floor", action="store_true", help="also sweep the floor app")
    sweep.add_argument(
        "--driver",
        choices=("locust", "wrk"),
        default="locust",
        help="load generator; with wrk, --scenario names a request list (default: locust)",
    )
    add_load_options(sweep)
    sweep.set_defaults(handler="sweep:cmd_sweep")

    wrk = commands.add_parser(
        "wrk",
        help="saturation run with wrk (much cheaper per request than locust)",
    )
    wrk.add_argument(
        "--scenario",
        default="seed",
        help="request list: seed, get, first-page, deep-page, health (default: seed)",
    )
    wrk.add_argument("--size", default="10k", help="items to seed (default: 10k)")
    wrk.add_argument("--threads", type=_positive_int, default=1, help="wrk threads (default: 1)")
    wrk.add_argument("--floor", action="store_true", help="also run the floor app")
    add_load_options(wrk)
    wrk.set_defaults(handler="sweep:cmd_wrk")

    profile = commands.add_parser(
        "profile",
        help="py-spy profiles of the hot endpoints under load",
    )
    profile.add_argument(
        "--scenario",
        default="SeedWorkload,ReadHeavy",
        help="comma-separated locust user classes (default: SeedWorkload,ReadHeavy)",
    )
    profile.add_argument("--size", default="10k", help="items to seed (default: 10k)")
    add_load_options(profile, duration="30s")
    profile.set_defaults(handler="profile:cmd_profile")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "fail_above", None) is not None and args.rounds < MIN_JUDGED_ROUNDS:
        parser.error(
            f"--fail-above needs --rounds {MIN_JUDGED_ROUNDS} or more: fewer rounds give "
            "no interval worth judging"
        )
    if args.spawn_rate is None:
        args.spawn_rate = float(args.users)
    from .commands import BenchError

    module, _, function = args.handler.partition(":")
    handler = getattr(importlib.import_module(f"acme_bench.{module}"), function)
    try:
        return int(handler(args, argv))
    except BenchError as exc:
        print(f"acme_bench: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("acme_bench: interrupted", file=sys.stderr)
        return 130
