"""``profile``: py-spy on a gunicorn worker while a scenario drives it.

py-spy writes its samples as collapsed stacks (``--format raw``: a line
``frame;frame;... COUNT`` per distinct stack, which speedscope and
flamegraph.pl read); ``profile.md`` sums them by library and by function.
"""

from __future__ import annotations

import re
import subprocess
import time
from argparse import Namespace
from collections import Counter
from collections.abc import Iterable, Sequence

from . import BenchError
from .commands import Run
from .drivers import run_locust, tree
from .engine import CURRENT_BIN, AppTarget, serve

# py-spy names a file from its import root (``sqlalchemy/engine/base.py``), so the
# acme namespace's packages show as ``core/...``, ``accounts/...``, ``items/...``.
ACME_NAMESPACE = ("core", "accounts", "items")
# Where a thread waits, not works (thread-pool threads parked on their queue).
IDLE = {"Condition.wait (threading.py)", "Event.wait (threading.py)", "Thread.join (threading.py)"}
_FRAME = re.compile(r"^(.*?) \(([^()]*?)(?::\d+)?\)$")  # function (path/to/module.py:123)


def area_of(path: str) -> str:
    """The library, acme package or standard library module a source file belongs to."""
    parts = path.split("/")
    if parts[0] in ACME_NAMESPACE and len(parts) > 1:
        return ".".join(["acme", *parts[: 2 if parts[0] == "core" and len(parts) > 2 else 1]])
    return parts[0].removesuffix(".py")


def summarize(title: str, lines: Iterable[str], *, notes: Sequence[str] = (), top: int = 20) -> str:
    """A markdown summary of collapsed stacks: CPU by library, then the hottest functions
    by their own samples and by the samples they are in (once per stack)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    idle = 0
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        frames = [(f"{m[1]} ({m[2]})", m[2]) for m in map(_FRAME.match, stack.split(";")) if m]
        if not frames or not count.isdigit():
            continue
        leaf, path = frames[-1]
        if leaf in IDLE:
            idle += int(count)
            continue
        own[leaf] += int(count)
        areas[area_of(path)] += int(count)
        inclusive.update(dict.fromkeys((name for name, _ in frames), int(count)))
    samples = sum(own.values())
    if not samples:
        return f"## {title}\n\nno samples\n"

    def table(heading: str, counts: Counter[str], limit: int | None = None) -> list[str]:
        rows = [f"| {100 * n / samples:5.1f} % | {name} |" for name, n in counts.most_common(limit)]
        return ["", f"### {heading}", "", "| share | where |", "|---|---|", *rows]

    text = [f"## {title}", "", f"{samples} samples ({idle} of parked threads left out).", ""]
    text += notes
    text += table("Own CPU by library", areas) + table("Hottest functions (own time)", own, top)
    return "\n".join(text + table("Hottest functions (inclusive)", inclusive, top)) + "\n"


def _profile(run: Run, scenario: str, target: AppTarget) -> str:
    args, out, env = run.args, run.dir / scenario, target.files.locust_env()
    with serve(target, 1, run.env(target.database), run.dir) as stack:
        url, watch = stack.url, stack.watch
        warmup = run.load(scenario, duration_s=args.warmup)
        run_locust(url=url, load=warmup, out=out / "warmup", env=env, watch=watch)
        workers = tree(watch["server"])[1:]
        if len(workers) != 1:
            raise BenchError(f"expected one gunicorn worker to profile, found {len(workers)}")
        collapsed = out / "py-spy.txt"
        command = [str(CURRENT_BIN / "py-spy"), "record", "--format", "raw", "--function"]
        command += ["--nonblocking", "--rate", "200", "--pid", str(workers[0].pid)]
        command += ["--duration", str(int(args.duration)), "--output", str(collapsed)]
        spy = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        latency, usage = run_locust(url=url, load=run.load(scenario), out=out, env=env, watch=watch)
        _, errors = spy.communicate(timeout=args.duration + 60)
    if spy.returncode != 0 or not collapsed.exists():
        raise BenchError(f"py-spy failed ({spy.returncode}): {errors.strip()[-1500:]}")
    cost = 1000 * usage["server"] / latency["requests"]
    notes = [
        "py-spy samples every thread of the worker 200 times a second; the shares are of the"
        " samples that were not parked threads.",
        f"Load: {scenario}, {args.users} users, {args.duration:g}s, 1 worker:"
        f" {latency['rps']:.0f} req/s, {cost:.2f} ms of worker CPU per request.",
        f"Collapsed stacks (for speedscope or flamegraph.pl): `{collapsed.relative_to(run.dir)}`.",
    ]
    return summarize(scenario, collapsed.read_text().splitlines(), notes=notes)


def cmd_profile(args: Namespace, argv: Sequence[str] | None) -> int:
    """Profile one worker of the working tree under each scenario named."""
    with Run("profile", args, argv) as run:
        target = AppTarget("api", *run.seeded("profile"))
        sections = [_profile(run, s.strip(), target) for s in args.scenario.split(",") if s.strip()]
    run.meta["wall time"] = f"{time.monotonic() - run.started:.0f}s"
    meta = [f"- **{key}**: {value}" for key, value in run.meta.items()]
    report = run.dir / "profile.md"
    report.write_text("\n".join(["# acme API profiles", "", *meta, "", *sections]))
    print(f"\nprofile: {report}")
    return 0
