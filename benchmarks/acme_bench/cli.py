"""``python -m acme_bench``: the benchmark runner's commands (see benchmarks/README.md)."""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# The fewest rounds whose per-round ratios give a 95 % interval of their median.
MIN_JUDGED_ROUNDS = 6
# What --fail-above runs unless told otherwise (benchmarks/README.md, "Reading the figures").
VERDICT = {"--rounds": ("rounds", 12), "--duration": ("duration", 3.0), "--warmup": ("warmup", 2.0)}
_DURATION = re.compile(r"^\s*(?:(\d+)h)?\s*(?:(\d+)m(?!s))?\s*(?:(\d+(?:\.\d+)?)s?)?\s*$")


def parse_duration(text: str) -> float:
    """Seconds in ``"90"``, ``"90s"``, ``"1m30s"`` or ``"1h"``.

    Raises:
        ValueError: the text is not such a duration, or is not positive.
    """
    match = _DURATION.match(text)
    if not match or not any(match.groups()):
        raise ValueError(f"not a duration: {text!r} (try 20s, 1m30s)")
    total = int(match[1] or 0) * 3600 + int(match[2] or 0) * 60 + float(match[3] or 0)
    if total <= 0:
        raise ValueError(f"duration must be positive: {text!r}")
    return total


def _checked(parse: Callable[[str], Any], ok: Callable[[Any], bool], what: str) -> Any:
    """An option's type: ``parse`` the text, refuse it (exit status 2) unless ``ok``."""

    def convert(text: str) -> Any:
        try:
            value = parse(text)
        except ValueError:
            raise ValueError(f"not {what}: {text!r}") from None
        if not ok(value):
            raise ValueError(f"not {what}: {text!r}")
        return value

    return convert


_positive = _checked(int, lambda n: n >= 1, "a whole number of at least 1")
_driver = _checked(str, lambda text: text in ("locust", "wrk"), "a load generator: locust or wrk")
_percent = _checked(
    lambda text: float(text.strip().removesuffix("%")) / 100,
    lambda fraction: 0 < fraction < 1,
    "a percentage between 0 and 100",
)
_variable = _checked(
    lambda text: tuple(text.split("=", 1)), lambda pair: len(pair) == 2 and pair[0], "NAME=VALUE"
)
_worker_counts = _checked(
    lambda text: [int(n) for n in text.split(",")], lambda counts: min(counts) >= 1, "counts"
)

FAIL_ABOVE = (
    "exit 1 when B regressed by more than PCT (e.g. 5%%) on requests/s (B/A lower is worse: "
    "regression when the whole 95 %% interval of B/A is below 1 - PCT) or on server CPU per "
    "request (higher is worse: the whole interval above 1 + PCT); exit 0 otherwise, 2 on bad "
    f"arguments; needs --rounds of at least {MIN_JUDGED_ROUNDS}; runs 12 rounds of 3s (warm-up 2s)"
    " unless told otherwise, a fresh server process every 3 rounds, and as many again when a"
    " median is past its limit but not its interval"
)
ENV_B = "NAME=VALUE for B's server only (repeat; OTEL_TRACES_EXPORTER=otlp prices tracing)"
ADMIN_URL = "PostgreSQL URL for the benchmark databases (default: ACME_BENCH_ADMIN_URL or local)"
DRIVER = "load generator: locust or wrk (--scenario then names a wrk request list)"
WRK_LISTS = "request list: seed, get, first-page, deep-page, health"
AMQP = "the API's events go through RabbitMQ (--amqp-url), not the in-process bus"
APART = "with --amqp: the relay and consumers run as acme-api relay / consume, not in gunicorn"
AMQP_URL = "RabbitMQ for --amqp and report's seed-amqp (default: ACME_BENCH_AMQP_URL or local)"

# option, type (bool: a flag), default (a string is parsed by the type), help; "(default: X)"
# ends every help with a default (benchmarks/tests/test_cli.py holds README.md to them).
Option = tuple[str, Callable[[str], Any] | type[bool] | None, Any, str]
COMMANDS = {
    "report": ("commands:cmd_report", "measure the tree against every target; write the report"),
    "compare": (
        "commands:cmd_compare",
        "A/B two versions: tree, git:REF, wheels:DIR, index:REQ@URL",
    ),
    "sweep": ("commands:cmd_sweep", "the same scenario at several gunicorn worker counts"),
    "wrk": ("commands:cmd_wrk", "saturation run with wrk (bench:saturate)"),
    "profile": ("profile:cmd_profile", "py-spy profiles of one worker under load"),
}
OPTIONS: dict[str, list[Option]] = {
    "report": [
        ("--duration", parse_duration, "15s", "measured time of each locust run"),
        ("--wrk-duration", parse_duration, "10s", "measured time of each wrk run"),
        ("--mix-rounds", _positive, 1, "rounds of the realistic mix, which is read for memory"),
        ("--deep-size", None, "1M", "items for the deep-page check ('skip' to skip it)"),
        ("--only", None, None, "comma-separated experiments to run (default: all)"),
    ],
    "compare": [
        ("--scenario", None, "SeedWorkload", "locust user class"),
        ("--driver", _driver, "locust", DRIVER),
        ("--rebuild", bool, False, "rebuild cached git venvs"),
        ("--pgbouncer", bool, False, "B connects through PgBouncer (deploy/pgbouncer/)"),
        ("--env-b", _variable, None, ENV_B),
        ("--amqp", bool, False, AMQP),
        ("--fail-above", _percent, None, FAIL_ABOVE),
    ],
    "sweep": [
        ("--worker-counts", _worker_counts, "1,2,4", "comma-separated worker counts"),
        ("--scenario", None, "SeedWorkload", "locust user class"),
        ("--floor", bool, False, "also sweep the floor app"),
        ("--driver", _driver, "locust", DRIVER),
    ],
    "wrk": [
        ("--scenario", None, "seed", WRK_LISTS),
        ("--threads", _positive, 1, "wrk threads"),
        ("--floor", bool, False, "also run the floor app"),
        ("--amqp", bool, False, AMQP),
        ("--apart", bool, False, APART),
    ],
    "profile": [
        ("--duration", parse_duration, "30s", "measured (and profiled) time per scenario"),
        ("--scenario", None, "SeedWorkload,ReadHeavy", "comma-separated locust user classes"),
    ],
}
LOAD: list[Option] = [
    ("--users", _positive, 32, "concurrent users / connections"),
    ("--spawn-rate", float, None, "users started per second (default: all at once)"),
    ("--duration", parse_duration, "20s", "measured time per run, e.g. 20s, 1m"),
    ("--warmup", parse_duration, "5s", "unmeasured load on a stack before it is first measured"),
    ("--rounds", _positive, 3, "interleaved rounds per comparison"),
    ("--processes", _positive, 1, "locust processes (locust --processes)"),
    ("--accounts", _positive, 4, "benchmark accounts the items are spread over, one token each"),
    ("--size", None, "10k", "items to seed, e.g. 10k, 100k, 1M"),
    ("--workers", _positive, 1, "gunicorn workers"),
    ("--nginx", bool, False, "put nginx in front of gunicorn"),
    ("--admin-url", None, None, ADMIN_URL),
    ("--amqp-url", None, None, AMQP_URL),
    ("--keep-db", bool, False, "keep the benchmark databases afterwards"),
    ("--out", Path, None, "output directory (default: benchmarks/results/<kind>-<time>)"),
]


def _add(parser: argparse.ArgumentParser, flag: str, kind: Any, default: Any, text: str) -> None:
    if kind is bool:
        parser.add_argument(flag, action="store_true", help=text)
        return
    if default is not None:
        text += f" (default: {default})"

    def convert(value: str) -> Any:  # a ValueError's message becomes argparse's (exit 2)
        try:
            return value if kind is None else kind(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    action = "append" if flag == "--env-b" else "store"
    parser.add_argument(flag, type=convert, default=default, action=action, help=text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m acme_bench",
        description="Benchmark the acme API: production-like stack, real tokens, reports.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (handler, summary) in COMMANDS.items():
        command = commands.add_parser(name, help=summary, description=summary)
        command.set_defaults(handler=handler)
        if name == "compare":
            command.add_argument("a", help="version A (the reference)")
            command.add_argument("b", help="version B")
        own = {option[0] for option in OPTIONS[name]}
        for flag, kind, default, text in [*OPTIONS[name], *(o for o in LOAD if o[0] not in own)]:
            _add(command, flag, kind, default, text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    given = {word.partition("=")[0] for word in (sys.argv[1:] if argv is None else argv)}
    for flag, (name, value) in VERDICT.items():
        if getattr(args, "fail_above", None) is not None and flag not in given:
            setattr(args, name, value)
    if getattr(args, "fail_above", None) is not None and args.rounds < MIN_JUDGED_ROUNDS:
        parser.error(
            f"--fail-above needs --rounds {MIN_JUDGED_ROUNDS} or more: fewer rounds give "
            "no interval worth judging"
        )
    args.spawn_rate = args.spawn_rate or float(args.users)
    from stackkit import StackError

    from . import BenchError

    module, _, function = args.handler.partition(":")
    handler = getattr(importlib.import_module(f"acme_bench.{module}"), function)
    try:
        return int(handler(args, argv))
    except (BenchError, StackError) as exc:
        print(f"acme_bench: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("acme_bench: interrupted", file=sys.stderr)
        return 130
